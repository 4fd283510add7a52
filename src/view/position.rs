//! Where an event lives in Kafka, the topic table that names topics by id, and the
//! 12-byte packing the index stores.

use std::sync::Arc;

/// Maximum number of distinct topics a position can name (6 bits).
pub const MAX_TOPICS: usize = 1 << TOPIC_BITS;
/// Maximum partition number + 1 a position can hold (14 bits).
pub const MAX_PARTITIONS: i32 = 1 << PARTITION_BITS;

const TOPIC_BITS: u32 = 6;
const PARTITION_BITS: u32 = 14;

/// A topic, by its place in the configured topic list ([`Topics`] names it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicId(pub u16);

impl TopicId {
    fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// The configured topics: the one place a [`TopicId`] becomes a name and back.
/// Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    names: Arc<[String]>,
}

impl Topics {
    /// The table for `names`, in configuration order (at most [`MAX_TOPICS`]).
    pub fn new(names: &[String]) -> Topics {
        Topics {
            names: names.iter().take(MAX_TOPICS).cloned().collect(),
        }
    }

    /// The name of `topic`. Ids come from this table, so every id has a name; a
    /// foreign one (a bug) gets a placeholder rather than a panic.
    pub fn name(&self, topic: TopicId) -> &str {
        self.names
            .get(topic.index())
            .map_or("(unknown topic)", String::as_str)
    }

    /// The id of the topic called `name`, if it is configured.
    pub fn id(&self, name: &str) -> Option<TopicId> {
        self.names
            .iter()
            .position(|n| n == name)
            .and_then(|i| u16::try_from(i).ok())
            .map(TopicId)
    }

    /// Every topic with its id, in configuration order.
    pub fn iter(&self) -> impl Iterator<Item = (TopicId, &str)> {
        self.names
            .iter()
            .enumerate()
            .filter_map(|(i, name)| Some((TopicId(u16::try_from(i).ok()?), name.as_str())))
    }
}

/// Where an event lives in Kafka.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Position {
    /// The topic.
    pub topic: TopicId,
    /// Partition number.
    pub partition: i32,
    /// Offset within the partition.
    pub offset: i64,
}

/// Why a position cannot be packed into 12 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PositionError {
    /// The topic id does not fit in 6 bits.
    #[error("topic index {} is above the limit of {MAX_TOPICS} topics", .0.0)]
    Topic(TopicId),
    /// The partition is negative or does not fit in 14 bits.
    #[error("partition {0} is outside 0..{MAX_PARTITIONS}")]
    Partition(i32),
    /// The offset is negative.
    #[error("offset {0} is negative")]
    Offset(i64),
}

/// A position packed for the index: the offset, and `partition:14 | topic:6`.
pub(super) type Packed = (u64, u32);

impl Position {
    /// Packs into 12 bytes: the offset, and `partition:14 | topic:6` in a `u32`.
    pub(super) fn pack(&self) -> Result<Packed, PositionError> {
        if self.topic.index() >= MAX_TOPICS {
            return Err(PositionError::Topic(self.topic));
        }
        if !(0..MAX_PARTITIONS).contains(&self.partition) {
            return Err(PositionError::Partition(self.partition));
        }
        let offset = u64::try_from(self.offset).map_err(|_| PositionError::Offset(self.offset))?;
        let partition = self.partition as u32; // checked non-negative above
        Ok((offset, (partition << TOPIC_BITS) | u32::from(self.topic.0)))
    }

    /// Inverse of [`Position::pack`].
    pub(super) fn unpack((offset, meta): Packed) -> Position {
        Position {
            topic: TopicId((meta & ((1 << TOPIC_BITS) - 1)) as u16),
            partition: (meta >> TOPIC_BITS) as i32,
            offset: offset as i64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_round_trips_at_the_limits() {
        for position in [
            Position {
                topic: TopicId((MAX_TOPICS - 1) as u16),
                partition: MAX_PARTITIONS - 1,
                offset: i64::MAX,
            },
            Position {
                topic: TopicId(0),
                partition: 0,
                offset: 0,
            },
            Position {
                topic: TopicId(3),
                partition: 7,
                offset: 42,
            },
        ] {
            assert_eq!(Position::unpack(position.pack().unwrap()), position);
        }
    }

    #[test]
    fn pack_rejects_what_does_not_fit() {
        let base = Position {
            topic: TopicId(0),
            partition: 0,
            offset: 1,
        };
        let too_many = TopicId(MAX_TOPICS as u16);
        let bad_topic = Position {
            topic: too_many,
            ..base
        };
        assert_eq!(bad_topic.pack(), Err(PositionError::Topic(too_many)));
        for partition in [-1, MAX_PARTITIONS] {
            let p = Position { partition, ..base };
            assert_eq!(p.pack(), Err(PositionError::Partition(partition)));
        }
        let negative = Position { offset: -1, ..base };
        assert_eq!(negative.pack(), Err(PositionError::Offset(-1)));
    }

    #[test]
    fn topics_name_ids_both_ways() {
        let topics = Topics::new(&["a".to_owned(), "b".to_owned()]);
        assert_eq!(topics.id("b"), Some(TopicId(1)));
        assert_eq!(topics.id("c"), None);
        assert_eq!(topics.name(TopicId(0)), "a");
        assert_eq!(topics.name(TopicId(9)), "(unknown topic)");
        let all: Vec<_> = topics.iter().collect();
        assert_eq!(all, [(TopicId(0), "a"), (TopicId(1), "b")]);
    }
}
