//! User names for uids, looked up once per uid (the system's NSS, as ps does) and cached.

use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct UserNames {
    names: HashMap<u32, Option<String>>,
}

impl UserNames {
    /// The user's name, or None when the uid has no entry.
    pub fn name(&mut self, uid: u32) -> Option<String> {
        self.names
            .entry(uid)
            .or_insert_with(|| {
                nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
                    .ok()
                    .flatten()
                    .map(|u| u.name)
            })
            .clone()
    }
}
