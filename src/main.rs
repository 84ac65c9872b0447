use std::process::ExitCode;

fn main() -> ExitCode {
    tcplab::main()
}
