//! ACL 1.0 request signing, as the Java `AclClientRPCHook` of 4.9.7 does it:
//! add `AccessKey` to the extFields, sort every extField by name, join the
//! values (without `Signature`), append the body, and send
//! `Signature = base64(HmacSHA1(secretKey, that))`.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use ringmq_remoting::RemotingCommand;
use sha1::Sha1;

/// ExtField that carries the access key.
pub const ACCESS_KEY: &str = "AccessKey";
/// ExtField that carries the signature.
pub const SIGNATURE: &str = "Signature";
/// The benchmark's default access key (`AclClient.ACL_ACCESS_KEY`).
pub const DEFAULT_ACCESS_KEY: &str = "rocketmq2";
/// The benchmark's default secret key (`AclClient.ACL_SECRET_KEY`).
pub const DEFAULT_SECRET_KEY: &str = "12345678";

/// Credentials of `-a true -ak ... -sk ...`.
#[derive(Debug, Clone)]
pub struct Acl {
    pub access_key: String,
    pub secret_key: String,
}

impl Acl {
    /// Adds `AccessKey` and `Signature` to `cmd` (which must already hold
    /// its header fields and body).
    pub fn sign(&self, cmd: &mut RemotingCommand) {
        let fields = cmd.ext_fields_mut();
        fields.insert(ACCESS_KEY, self.access_key.as_str());
        fields.remove(SIGNATURE);
        // Java sorts with a TreeMap<String, String>: UTF-16 order, which is
        // byte order for the ASCII names headers use.
        let mut entries: Vec<(&str, &str)> = fields.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(self.secret_key.as_bytes())
            .expect("HMAC accepts keys of any length");
        for (_, value) in entries {
            mac.update(value.as_bytes());
        }
        mac.update(&cmd.body);
        let signature =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        cmd.ext_fields_mut().insert(SIGNATURE, signature);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringmq_remoting::RequestCode;

    #[test]
    fn signature_covers_sorted_values_and_body() {
        let acl = Acl {
            access_key: "ak".into(),
            secret_key: "sk".into(),
        };
        let mut a = RemotingCommand::new_request(RequestCode::HeartBeat, 1).with_body(&b"x"[..]);
        a.ext_fields_mut().insert("b", "2");
        a.ext_fields_mut().insert("a", "1");
        let mut b = RemotingCommand::new_request(RequestCode::HeartBeat, 2).with_body(&b"x"[..]);
        b.ext_fields_mut().insert("a", "1");
        b.ext_fields_mut().insert("b", "2");
        acl.sign(&mut a);
        acl.sign(&mut b);
        assert_eq!(a.ext_field(SIGNATURE), b.ext_field(SIGNATURE));
        // HmacSHA1("sk", "ak" + "1" + "2" + "x"): the values sorted by name
        // ("AccessKey" < "a" < "b"), then the body.
        let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(b"sk").unwrap();
        mac.update(b"ak12x");
        let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(a.ext_field(SIGNATURE), Some(want.as_str()));
    }
}
