//! Member ids: Kafka's `<client id or instance id>-<UUID>`.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

/// A random version-4 style UUID string. The randomness comes from the standard library's
/// randomly keyed SipHash (seeded from the operating system), mixed with the time, the process
/// id and `salt`, so ids differ across processes and restarts, not only within one run.
pub(crate) fn random_uuid(salt: u64) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let mut words = [0u64; 2];
    for (i, w) in words.iter_mut().enumerate() {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(salt);
        h.write_u128(now);
        h.write_u32(std::process::id());
        h.write_usize(i);
        *w = h.finish();
    }
    let hi = (words[0] & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
    let lo = (words[1] & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_well_formed_and_distinct() {
        let ids: std::collections::HashSet<String> = (0..1000).map(random_uuid).collect();
        assert_eq!(ids.len(), 1000);
        for id in ids.iter().take(10) {
            let parts: Vec<&str> = id.split('-').collect();
            assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), vec![8, 4, 4, 4, 12], "{id}");
            assert!(parts[2].starts_with('4'), "{id}");
        }
    }
}
