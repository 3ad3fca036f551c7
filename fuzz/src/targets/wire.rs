//! A module's results are read by the host from guest memory the module
//! wrote, so they are whatever a broken or hostile module makes them. Reading
//! them must answer an error, never panic, and must never claim more results
//! than the batch had events. Batches are read the same way by the SDK.
//!
//! Input: the number of events the batch had (a byte), then the bytes.

use wasmstash_sdk::plumbing::wire;

/// One input, as the fuzz target of this name gets it.
pub fn run(data: &[u8]) {
    let Some((&expected, bytes)) = data.split_first() else {
        return;
    };
    let expected = usize::from(expected);
    if let Ok(results) = wire::decode_results(bytes, expected) {
        assert_eq!(results.len(), expected);
        let payloads: usize = results.iter().map(|(_, p)| p.len()).sum();
        assert!(payloads <= bytes.len());
    }
    if let Ok(events) = wire::decode_batch(bytes) {
        assert_eq!(events.len(), wire::batch_len(bytes));
    }
    if let Ok(events) = wire::decode_keyed_batch(bytes) {
        assert_eq!(events.len(), wire::batch_len(bytes));
        // The spans are the host's word, read as given; only their count
        // is the wire's business.
        for (_, keys) in events {
            assert_eq!(keys.iter().count(), keys.len());
        }
    }
}
