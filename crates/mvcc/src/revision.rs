//! Revisions and their on-disk encoding.

use crate::error::Error;
use crate::error::Result;

/// Length of an encoded revision: main and sub, each 8 bytes big-endian.
pub(crate) const REVISION_BYTES: usize = 16;

/// A store revision: `main` is the store-wide write counter, `sub` the position of a change
/// inside the write (as etcd's `revision{main, sub}`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Revision {
    pub(crate) main: i64,
    pub(crate) sub: i64,
}

impl Revision {
    /// Encodes so that byte order is revision order (both parts are never negative).
    pub(crate) fn to_bytes(self) -> [u8; REVISION_BYTES] {
        debug_assert!(
            self.main >= 0 && self.sub >= 0,
            "negative revision {self:?}"
        );
        let mut out = [0u8; REVISION_BYTES];
        let (main, sub) = out.split_at_mut(8);
        main.copy_from_slice(&self.main.to_be_bytes());
        sub.copy_from_slice(&self.sub.to_be_bytes());
        out
    }

    /// Decodes [`Revision::to_bytes`].
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Revision> {
        let (main, sub) = match (bytes.get(..8), bytes.get(8..)) {
            (Some(main), Some(sub)) if bytes.len() == REVISION_BYTES => (main, sub),
            _ => {
                return Err(Error::Corrupt(format!(
                    "revision key of {} bytes",
                    bytes.len()
                )));
            }
        };
        let to_i64 = |b: &[u8]| -> Result<i64> {
            let arr: [u8; 8] = b
                .try_into()
                .map_err(|_| Error::Corrupt("revision part length".into()))?;
            Ok(i64::from_be_bytes(arr))
        };
        Ok(Revision {
            main: to_i64(main)?,
            sub: to_i64(sub)?,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips_and_orders_like_revisions() {
        let a = Revision { main: 2, sub: 300 };
        let b = Revision { main: 3, sub: 0 };
        assert_eq!(Revision::from_bytes(&a.to_bytes()).unwrap(), a);
        assert!(a.to_bytes() < b.to_bytes());
        assert!(Revision::from_bytes(&[1, 2, 3]).is_err());
    }
}
