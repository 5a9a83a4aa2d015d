//! [`KeySource`]: where a client's masking keys and `Sec-WebSocket-Key`
//! come from. ws-proto's own trait, so that its API names no other crate's
//! RNG trait (a new major release of rand is not one of ws-proto's).

/// The unpredictable bytes a client needs: a fresh masking key for every
/// frame and the handshake's nonce. They must be unpredictable to the
/// network (RFC 6455 section 10.3): back it with a CSPRNG.
///
/// Every `rand` 0.10 RNG (`rand::Rng`, the rand that ws-proto builds with)
/// is a `KeySource` already, so a seeded `rand::rngs::StdRng` serves in
/// tests; [`default_rng`](crate::default_rng) is the one to use otherwise.
/// Implement it directly to depend on no rand version at all.
pub trait KeySource: Send {
    /// Fills `dest` with unpredictable bytes.
    fn fill_bytes(&mut self, dest: &mut [u8]);

    /// A masking key. The default draws 4 bytes with
    /// [`fill_bytes`](Self::fill_bytes); a source with a cheaper word
    /// draws one word.
    fn mask_key(&mut self) -> [u8; 4] {
        let mut key = [0; 4];
        self.fill_bytes(&mut key);
        key
    }
}

impl<R: rand::Rng + Send + ?Sized> KeySource for R {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        rand::Rng::fill_bytes(self, dest);
    }

    fn mask_key(&mut self) -> [u8; 4] {
        self.next_u32().to_ne_bytes()
    }
}

/// A CSPRNG (ChaCha12) seeded from the operating system: what
/// [`default_rng`](crate::default_rng) returns.
pub struct DefaultKeySource(rand::rngs::StdRng);

impl DefaultKeySource {
    pub(crate) fn new() -> Self {
        Self(rand::make_rng())
    }
}

impl KeySource for DefaultKeySource {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        rand::Rng::fill_bytes(&mut self.0, dest);
    }

    fn mask_key(&mut self) -> [u8; 4] {
        rand::Rng::next_u32(&mut self.0).to_ne_bytes()
    }
}

impl std::fmt::Debug for DefaultKeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DefaultKeySource") // never the state of a key generator
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::KeySource;
    use crate::{ClientRequest, Config, Connection};

    /// A source of ws-proto's own trait, with no rand in sight.
    struct Counting(u8);

    impl KeySource for Counting {
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for b in dest {
                self.0 = self.0.wrapping_add(1);
                *b = self.0;
            }
        }
    }

    #[test]
    fn a_source_of_our_own_trait_draws_the_nonce_and_the_mask_keys() {
        let request = ClientRequest::new("example.com", 80, "/");
        let client = Connection::client(Instant::now(), Config::default(), &request, Counting(0))
            .expect("a valid request");
        let head = String::from_utf8(client.poll_transmit().unwrap().to_vec()).unwrap();
        // The 16-byte nonce 1..=16, base64-encoded.
        assert!(
            head.contains("Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n"),
            "{head}"
        );
        let mut source = Counting(16);
        assert_eq!(source.mask_key(), [17, 18, 19, 20], "the default mask_key");
    }
}
