//! `analyzer demo --avro`: delivery events as a Django event-sourcing service
//! writes them: schemaless Avro datums typed by an `item_type_name` header, with
//! the schemas shipped in `examples/schemas/` (embedded in the binary).

use std::time::{SystemTime, UNIX_EPOCH};

use super::Dice;

/// The example schemas, as (file name, text).
pub const SCHEMAS: [(&str, &str); 3] = [
    (
        "address.avsc",
        include_str!("../../examples/schemas/address.avsc"),
    ),
    (
        "delivery_created.avsc",
        include_str!("../../examples/schemas/delivery_created.avsc"),
    ),
    (
        "delivery_on_hold.avsc",
        include_str!("../../examples/schemas/delivery_on_hold.avsc"),
    ),
];

/// The header that names an event's type.
pub const TYPE_HEADER: &str = "item_type_name";
/// The two event types, which are their schemas' full names.
pub const TYPES: [&str; 2] = [
    "delivery.events.DeliveryCreatedV2",
    "delivery.events.DeliveryOnHoldV6",
];

/// Avro binary encoding of the few shapes the demo writes.
#[derive(Default)]
struct Datum(Vec<u8>);

impl Datum {
    fn long(&mut self, v: i64) -> &mut Self {
        crate::varint::put_long(&mut self.0, v);
        self
    }

    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.long(b.len() as i64);
        self.0.extend_from_slice(b);
        self
    }

    fn string(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    /// A decimal's unscaled value: two's complement, big-endian, fewest bytes.
    fn decimal(&mut self, unscaled: i64) -> &mut Self {
        let full = unscaled.to_be_bytes();
        let mut start = 0;
        while start < 7 {
            let redundant = (full[start] == 0 && full[start + 1] & 0x80 == 0)
                || (full[start] == 0xff && full[start + 1] & 0x80 != 0);
            if !redundant {
                break;
            }
            start += 1;
        }
        self.bytes(&full[start..])
    }
}

/// The next demo event: (type header, value). About 2% are truncated datums,
/// which analyzer counts as `invalid_avro`.
pub fn next_event(dice: &mut Dice) -> (&'static str, Vec<u8>) {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let uuid = format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        dice.roll(1 << 32),
        dice.roll(1 << 16),
        dice.roll(1 << 12),
        dice.roll(1 << 12),
        dice.roll(1 << 48)
    );
    let mut datum = Datum::default();
    let event_type = if dice.roll(3) == 0 {
        datum
            .string(&uuid)
            .long(now_ms * 1000 + dice.roll(1000) as i64)
            .long(1) // release_on: a date
            .long(now_ms / 86_400_000 + 2)
            .long(1) // reason: a string
            .string(["address unclear", "customs hold", "weather"][dice.roll(3) as usize])
            .decimal(dice.roll(5_000) as i64 - 500);
        datum
            .0
            .extend_from_slice(&(dice.roll(300) as f64 / 10.0 - 5.0).to_le_bytes());
        datum.long(0); // signature: null
        TYPES[1]
    } else {
        let street = format!("{} Rue de la Paix", dice.roll(200) + 1);
        datum
            .string(&uuid)
            .long(now_ms)
            .string(&street)
            .string(["Lyon", "Paris", "Nantes"][dice.roll(3) as usize])
            .long(1)
            .string(&format!("{:05}", 69_000 + dice.roll(10)));
        let items = dice.roll(3) + 1;
        datum.long(items as i64);
        for i in 0..items {
            datum
                .string(&format!("SKU-{}", 100 + i * 7 + dice.roll(5)))
                .long(dice.roll(4) as i64 + 1)
                .decimal(dice.roll(20_000) as i64 + 99);
        }
        datum.long(0).long(dice.roll(2) as i64);
        TYPES[0]
    };
    let mut value = datum.0;
    if dice.roll(50) == 0 {
        value.truncate(value.len() / 2);
    }
    (event_type, value)
}
