//! JSON bodies of remoting commands (reference §4), written the way Java's
//! fastjson writes them and read as leniently as fastjson reads them.

pub mod fastjson;

// Name server bodies.
pub mod cluster_info;
pub mod kv_table;
pub mod register_broker_body;
pub mod route_data;
pub mod topic_config;
pub mod topic_list;

// Broker bodies.
pub mod check_client;
pub mod connection;
pub mod consume_stats;
pub mod consumer_list;
pub mod lock_batch;
pub mod message_queue;
pub mod subscription_group;
pub mod topic_stats;
