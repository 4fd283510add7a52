//! The Protobuf decoder's property: any bytes, read as a message-index path then
//! a message of examples/protobuf/shop.desc, or as each message directly, decode to
//! JSON that parses or fail with a reason; never a panic, an overflowed stack or
//! an allocation the bytes asked for. The check and the rendering agree.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use analyzer::decode::protobuf::{self, Protobuf};

/// The messages tried, each a type by its full name.
const MESSAGES: [&str; 5] = [
    "shop.OrderPlaced",
    "shop.OrderShipped",
    "shop.OrderShipped.Parcel",
    "shop.Node",
    "shop.Money",
];

fn local() -> &'static Protobuf {
    static PROTOBUF: OnceLock<Protobuf> = OnceLock::new();
    PROTOBUF.get_or_init(|| {
        let path =
            std::env::temp_dir().join(format!("analyzer-fuzz-shop-{}.desc", std::process::id()));
        std::fs::write(
            &path,
            include_bytes!("../../../examples/protobuf/shop.desc"),
        )
        .expect("temp file");
        Protobuf::load(&[path], &BTreeMap::new()).expect("shop.desc loads")
    })
}

/// The property, for one input: panics when it does not hold.
pub fn check(data: &[u8]) {
    let local = local();
    // As a framed value's tail: the path picks the message, as the registry's file would.
    let (which, bytes) = match protobuf::read_path(data) {
        Ok((path, rest)) => (path.first().copied().unwrap_or(0) % MESSAGES.len(), rest),
        Err(_) => (data.len() % MESSAGES.len(), data),
    };
    for (name, bytes) in [(MESSAGES[which], bytes)]
        .into_iter()
        .chain(MESSAGES.iter().map(|name| (*name, data)))
    {
        let message = local.message_of(name).expect("a message of shop.desc");
        let mut out = Vec::new();
        let rendered = protobuf::decode(message, bytes, Some(&mut out));
        let checked = protobuf::decode(message, bytes, None);
        assert_eq!(
            rendered.is_ok(),
            checked.is_ok(),
            "{rendered:?} / {checked:?}"
        );
        if rendered.is_ok() {
            let json: Result<serde_json::Value, _> = serde_json::from_slice(&out);
            assert!(
                json.is_ok(),
                "not JSON: {:?}",
                String::from_utf8_lossy(&out)
            );
        }
    }
}
