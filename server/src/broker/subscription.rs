//! Subscriptions as the pull path uses them: a TAG expression turned into
//! the set of tag hash codes the consume queue is filtered by (reference
//! §6.5), and the published view of each consumer group's subscriptions
//! (push consumers do not repeat their subscription in pulls, §6.1).

use std::collections::HashMap;

use ringmq_engine::record::java_string_hash;
use ringmq_remoting::heartbeat::SubscriptionData;

/// Consume-queue filter of a TAG subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagFilter {
    /// `*` or an empty expression: everything matches.
    all: bool,
    codes: Vec<i32>,
}

impl TagFilter {
    pub fn all() -> TagFilter {
        TagFilter {
            all: true,
            codes: Vec::new(),
        }
    }

    /// Parses `TagA || TagB`: split on `||`, parts trimmed, empty parts
    /// ignored; `*` or nothing left means all.
    pub fn parse(expr: &str) -> TagFilter {
        let expr = expr.trim();
        if expr.is_empty() || expr == "*" {
            return TagFilter::all();
        }
        let mut codes: Vec<i32> = expr
            .split("||")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(java_string_hash)
            .collect();
        if codes.is_empty() {
            return TagFilter::all();
        }
        codes.sort_unstable();
        codes.dedup();
        TagFilter { all: false, codes }
    }

    /// From a heartbeat subscription: its codeSet is authoritative when
    /// given, as Apache filters by it. Only TAG subscriptions filter by
    /// tags code; an SQL92 one passes every unit to its expression.
    pub fn from_subscription(sub: &SubscriptionData) -> TagFilter {
        let is_tag = sub.expression_type.is_empty() || sub.expression_type == "TAG";
        if !is_tag || sub.sub_string.trim() == "*" || sub.sub_string.trim().is_empty() {
            return TagFilter::all();
        }
        if sub.code_set.is_empty() {
            return TagFilter::parse(&sub.sub_string);
        }
        let mut codes = sub.code_set.clone();
        codes.sort_unstable();
        codes.dedup();
        TagFilter { all: false, codes }
    }

    /// Whether a consume-queue unit with this tags code is returned.
    pub fn matches(&self, tags_code: i64) -> bool {
        self.all || self.codes.binary_search(&(tags_code as i32)).is_ok()
    }
}

/// A group's subscription to one topic, as pulls see it.
#[derive(Clone)]
pub struct TopicSubscription {
    pub filter: TagFilter,
    /// The compiled expression of an SQL92 subscription (None if it does
    /// not compile: pulls are then refused with SUBSCRIPTION_PARSE_FAILED).
    pub sql: Option<super::sql92::SqlFilter>,
    pub expression_type: String,
    pub sub_version: i64,
    pub broadcast: bool,
}

/// The published subscriptions of one consumer group (topic → subscription).
pub type GroupSubscriptions = HashMap<String, TopicSubscription>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_expressions() {
        let f = TagFilter::parse("TagA || TagB");
        assert!(f.matches(2598919));
        assert!(f.matches(2598920));
        assert!(!f.matches(java_string_hash("TagC") as i64));
        assert!(TagFilter::parse("*").matches(12345));
        assert!(TagFilter::parse(" || ").matches(7));
        // Sign-extended codes compare as i32.
        let neg = java_string_hash("TopicTest#KEY1");
        assert!(TagFilter::parse("TopicTest#KEY1").matches(neg as i64));
    }

    #[test]
    fn heartbeat_subscriptions_filter_by_tag_only_when_they_are_tag() {
        let sub = |ty: &str, expr: &str, codes: Vec<i32>| SubscriptionData {
            class_filter_mode: false,
            code_set: codes,
            expression_type: ty.to_owned(),
            sub_string: expr.to_owned(),
            sub_version: 1,
            tags_set: Vec::new(),
            topic: "T".to_owned(),
        };
        let a = java_string_hash("TagA");
        let tag = TagFilter::from_subscription(&sub("TAG", "TagA", vec![a]));
        assert!(tag.matches(a as i64) && !tag.matches(7));
        // SQL92: every unit goes on to the expression, whatever its tag.
        let sql = TagFilter::from_subscription(&sub("SQL92", "a BETWEEN 3 AND 6", vec![]));
        assert!(sql.matches(7) && sql.matches(a as i64));
    }
}
