//! Topic names Apache gives a meaning to, and its validation rules
//! (reference §7.2 step 3–4, Apache `TopicValidator` 4.9.7).

pub const RETRY_PREFIX: &str = "%RETRY%";
pub const DLQ_PREFIX: &str = "%DLQ%";
pub const AUTO_CREATE_TOPIC: &str = "TBW102";
pub const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";
pub const BENCHMARK_TOPIC: &str = "BenchmarkTest";
pub const SELF_TEST_TOPIC: &str = "SELF_TEST_TOPIC";
pub const OFFSET_MOVED_EVENT: &str = "OFFSET_MOVED_EVENT";
pub const TRANS_HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
pub const TRANS_OP_HALF_TOPIC: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
pub const TRANS_CHECK_MAX_TIME_TOPIC: &str = "TRANS_CHECK_MAX_TIME_TOPIC";
pub const REPLY_TOPIC_SUFFIX: &str = "_REPLY_TOPIC";
/// Longest topic name Apache accepts.
pub const TOPIC_MAX_LEN: usize = 127;
/// Longest group name.
pub const GROUP_MAX_LEN: usize = 255;

/// Apache's topic check: non-blank, only `[%|a-zA-Z0-9_-]`, at most 127
/// characters. The error is the remark Apache sends.
pub fn validate(topic: &str) -> Result<(), String> {
    if topic.trim().is_empty() {
        return Err("The specified topic is blank.".into());
    }
    if !topic
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'%' | b'|' | b'_' | b'-'))
    {
        return Err(format!(
            "The specified topic[{topic}] contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$"
        ));
    }
    if topic.len() > TOPIC_MAX_LEN {
        return Err("The specified topic is longer than topic max length.".into());
    }
    Ok(())
}

/// Topics producers may not send to (they are written by the broker itself).
pub fn is_not_allowed_send(topic: &str) -> bool {
    matches!(
        topic,
        SCHEDULE_TOPIC
            | TRANS_HALF_TOPIC
            | TRANS_OP_HALF_TOPIC
            | TRANS_CHECK_MAX_TIME_TOPIC
            | SELF_TEST_TOPIC
            | OFFSET_MOVED_EVENT
    )
}

/// System topics that admin commands may not create or delete (the
/// broker's and cluster's own topics are checked by the caller, which knows
/// their names).
pub fn is_system_topic(topic: &str) -> bool {
    is_not_allowed_send(topic)
        || topic == AUTO_CREATE_TOPIC
        || topic == BENCHMARK_TOPIC
        || topic == "RMQ_SYS_TRACE_TOPIC"
        || topic.ends_with(REPLY_TOPIC_SUFFIX)
        || topic.starts_with("rmq_sys_")
}

/// Group names: same character set, at most 255 characters.
pub fn validate_group(group: &str) -> Result<(), String> {
    if group.trim().is_empty() {
        return Err("the specified group is blank".into());
    }
    if group.len() > GROUP_MAX_LEN {
        return Err("the specified group is longer than group max length 255.".into());
    }
    if !group
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'%' | b'|' | b'_' | b'-'))
    {
        return Err(format!(
            "the specified group[{group}] contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apache_rules() {
        assert!(validate("TopicTest").is_ok());
        assert!(validate("%RETRY%group-1").is_ok());
        assert!(validate("a|b").is_ok());
        assert!(validate("").is_err());
        assert!(validate("   ").is_err());
        assert!(validate("bad topic!")
            .unwrap_err()
            .contains("illegal characters"));
        assert!(validate(&"x".repeat(127)).is_ok());
        assert!(validate(&"x".repeat(128)).unwrap_err().contains("longer"));
        assert!(is_not_allowed_send(SCHEDULE_TOPIC));
        assert!(!is_not_allowed_send("TopicTest"));
    }
}
