//! Where an event lives in Kafka, the topic table that names topics by id, and the
//! limits of what the index holds.

use std::sync::Arc;

/// Maximum number of distinct topics a position can name (6 bits).
pub const MAX_TOPICS: usize = 1 << TOPIC_BITS;
/// Maximum partition number + 1 a position can hold (14 bits).
pub const MAX_PARTITIONS: i32 = 1 << PARTITION_BITS;

const TOPIC_BITS: u32 = 6;
const PARTITION_BITS: u32 = 14;

/// A topic, by its place in the configured topic list ([`Topics`] names it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

    /// Each topic's rank by name, by id: the tie-break between equal clocks, the
    /// same whatever order the configuration lists the topics in.
    pub fn name_ranks(&self) -> Vec<u16> {
        let mut by_name: Vec<usize> = (0..self.names.len()).collect();
        by_name.sort_by(|a, b| self.names[*a].cmp(&self.names[*b]));
        let mut ranks = vec![0u16; self.names.len()];
        for (rank, id) in by_name.into_iter().enumerate() {
            ranks[id] = u16::try_from(rank).unwrap_or(u16::MAX);
        }
        ranks
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

/// Why a position cannot be indexed.
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

impl Position {
    /// Whether the index can hold this position: a configured topic id, a partition
    /// in `0..MAX_PARTITIONS`, an offset not negative.
    pub fn check(&self) -> Result<(), PositionError> {
        if self.topic.index() >= MAX_TOPICS {
            return Err(PositionError::Topic(self.topic));
        }
        if !(0..MAX_PARTITIONS).contains(&self.partition) {
            return Err(PositionError::Partition(self.partition));
        }
        if self.offset < 0 {
            return Err(PositionError::Offset(self.offset));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_rejects_what_the_index_cannot_hold() {
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
        assert_eq!(base.check(), Ok(()));
        assert_eq!(bad_topic.check(), Err(PositionError::Topic(too_many)));
        for partition in [-1, MAX_PARTITIONS] {
            let p = Position { partition, ..base };
            assert_eq!(p.check(), Err(PositionError::Partition(partition)));
        }
        let negative = Position { offset: -1, ..base };
        assert_eq!(negative.check(), Err(PositionError::Offset(-1)));
    }

    #[test]
    fn topics_name_ids_both_ways() {
        let topics = Topics::new(&["b".to_owned(), "a".to_owned(), "c".to_owned()]);
        assert_eq!(topics.name_ranks(), [1, 0, 2]);
        let topics = Topics::new(&["a".to_owned(), "b".to_owned()]);
        assert_eq!(topics.id("b"), Some(TopicId(1)));
        assert_eq!(topics.id("c"), None);
        assert_eq!(topics.name(TopicId(0)), "a");
        assert_eq!(topics.name(TopicId(9)), "(unknown topic)");
        let all: Vec<_> = topics.iter().collect();
        assert_eq!(all, [(TopicId(0), "a"), (TopicId(1), "b")]);
    }
}
