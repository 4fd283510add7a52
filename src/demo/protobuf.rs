//! `analyzer demo --protobuf`: orders as a gRPC shop service writes them to Kafka:
//! unframed Protobuf messages typed by an `item_type_name` header, decoded with
//! the descriptor set shipped in `examples/protobuf/` (embedded in the binary).

use std::time::{SystemTime, UNIX_EPOCH};

use super::Dice;

/// `examples/protobuf/shop.desc`: shop/orders.proto with its imports.
pub const DESCRIPTOR_SET: &[u8] = include_bytes!("../../examples/protobuf/shop.desc");

/// The header that names an event's type.
pub const TYPE_HEADER: &str = super::avro::TYPE_HEADER;
/// The two event types and the messages `[protobuf.types]` maps them to.
pub const TYPES: [(&str, &str); 2] = [
    ("order_placed", "shop.OrderPlaced"),
    ("order_shipped", "shop.OrderShipped"),
];

/// Protobuf's wire format for the few shapes the demo writes.
#[derive(Default)]
struct Fields(Vec<u8>);

impl Fields {
    fn varint(&mut self, field: u32, v: u64) -> &mut Self {
        crate::varint::put_varint_field(&mut self.0, field, v);
        self
    }

    fn bytes(&mut self, field: u32, b: &[u8]) -> &mut Self {
        crate::varint::put_bytes_field(&mut self.0, field, b);
        self
    }

    fn message(&mut self, field: u32, inner: &mut Fields) -> &mut Self {
        self.bytes(field, &std::mem::take(&mut inner.0))
    }
}

/// A `shop.Money` of `cents` euros.
fn euros(cents: u64) -> Fields {
    let mut money = Fields::default();
    money
        .bytes(1, b"EUR")
        .varint(2, cents / 100)
        .varint(3, cents % 100 * 10_000_000);
    money
}

/// The next demo event: (type header, value). About 2% are broken (a field that
/// claims more bytes than the message has), which analyzer counts as
/// `invalid_protobuf`.
pub fn next_event(dice: &mut Dice, seq: u64) -> (&'static str, Vec<u8>) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    // Orders o-0000..o-0499: each is placed, then shipped, again and again, so
    // the key index has a history per order.
    let order_id = format!("o-{:04}", dice.roll(500));
    let mut value = Fields::default();
    let event_type = if seq % 3 == 2 {
        let mut parcel = Fields::default();
        parcel.bytes(1, format!("TRK{:08}", dice.roll(100_000_000)).as_bytes());
        let grams: Vec<u8> = (0..=dice.roll(2))
            .flat_map(|_| (dice.roll(20_000) + 50).to_le_bytes())
            .collect();
        parcel.bytes(2, &grams);
        let mut transit = Fields::default();
        transit.varint(1, dice.roll(5 * 86_400) + 3_600);
        value
            .bytes(1, order_id.as_bytes())
            .message(2, &mut parcel)
            .message(3, &mut transit);
        TYPES[1].0
    } else {
        let lines = dice.roll(3) + 1;
        let mut total = 0;
        value.bytes(1, order_id.as_bytes());
        for i in 0..lines {
            let cents = dice.roll(20_000) + 99;
            total += cents;
            let mut line = Fields::default();
            line.bytes(1, format!("SKU-{}", 100 + i * 7 + dice.roll(5)).as_bytes())
                .varint(2, dice.roll(4) + 1)
                .message(3, &mut euros(cents));
            value.message(3, &mut line);
        }
        let mut placed_at = Fields::default();
        placed_at
            .varint(1, now.as_secs())
            .varint(2, u64::from(now.subsec_millis()) * 1_000_000);
        value
            .message(2, &mut euros(total))
            .varint(5, dice.roll(3) + 1)
            .varint(7, seq)
            .message(9, &mut placed_at)
            .bytes(10, format!("tok_{:06x}", dice.roll(1 << 24)).as_bytes());
        TYPES[0].0
    };
    if dice.roll(50) == 0 {
        value.0.extend_from_slice(&[0x0a, 0x7f]);
    }
    (event_type, value.0)
}
