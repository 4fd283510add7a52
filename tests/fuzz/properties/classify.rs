//! Any bytes, under every rule, as value, header and topic: the classifier answers
//! a type or a reason, never panics, and a type it gives is within the limits.

use analyzer::classify::{MAX_TYPE_LEN, Message, Rule, UNCLASSIFIED};

/// The property, for one input: panics when it does not hold.
pub fn check(data: &[u8]) {
    let rules = [
        Rule::JsonField("type".into()),
        Rule::json_pointer("/meta/type"),
        Rule::Header("item_type_name".into()),
        Rule::Topic,
    ];
    let topic = std::str::from_utf8(data).unwrap_or("events");
    let headers: [(&str, Option<&[u8]>); 2] = [("other", None), ("item_type_name", Some(data))];
    for value in [Some(data), None] {
        let message = Message {
            topic,
            value,
            headers: &headers[..],
        };
        for rule in &rules {
            if let Ok(event_type) = rule.classify(&message) {
                assert!(!event_type.is_empty());
                assert!(event_type.len() <= MAX_TYPE_LEN);
                assert_ne!(event_type, UNCLASSIFIED);
            }
        }
    }
}
