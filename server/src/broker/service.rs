//! Request dispatch of the broker port: one match from request code to
//! handler. Handlers run on the accepting shard and reach other shards
//! through the mesh themselves.

use std::future::Future;
use std::rc::Rc;

use ringmq_remoting::{RemotingCommand, RequestCode};

use super::shard::BrokerShard;
use super::{
    admin, call_consumer, clients, pull, query, queue_locks, queue_requests, retry, send, stats,
    transaction,
};
use crate::net::conn::not_supported;
use crate::net::{Connection, Service};

pub struct BrokerService {
    pub shard: Rc<BrokerShard>,
}

impl Service for BrokerService {
    fn handle(
        self: Rc<Self>,
        conn: Rc<Connection>,
        req: RemotingCommand,
    ) -> impl Future<Output = Option<RemotingCommand>> + 'static {
        dispatch(self.shard.clone(), conn, req)
    }

    fn on_open(&self, conn: &Rc<Connection>) {
        self.shard.conns.borrow_mut().insert(conn.id, conn.clone());
    }

    fn on_close(&self, conn: &Rc<Connection>) {
        let (shard, id) = (self.shard.clone(), conn.id);
        glommio::spawn_local(async move { clients::connection_gone(&shard, id).await }).detach();
    }
}

async fn dispatch(
    shard: Rc<BrokerShard>,
    conn: Rc<Connection>,
    req: RemotingCommand,
) -> Option<RemotingCommand> {
    use RequestCode as C;
    let (s, c) = (shard, conn);
    match req.request_code() {
        C::SendMessage | C::SendMessageV2 | C::SendBatchMessage => send::handle(s, c, req).await,
        C::PullMessage | C::LitePullMessage => pull::handle(s, c, req).await,
        C::HeartBeat => clients::heartbeat(s, c, req).await,
        C::UnregisterClient => clients::unregister(s, c, req).await,
        C::GetConsumerListByGroup => clients::consumer_list(s, c, req).await,
        C::ConsumerSendMsgBack => retry::send_back(s, c, req).await,
        C::EndTransaction => transaction::end_transaction(s, c, req).await,
        C::LockBatchMq => queue_locks::lock_batch(s, c, req).await,
        C::UnlockBatchMq => queue_locks::unlock_batch(s, c, req).await,
        C::CheckClientConfig => admin::check_client_config(s, c, req).await,
        C::UpdateConsumerOffset => queue_requests::update_consumer_offset(s, c, req).await,
        C::QueryConsumerOffset => queue_requests::query_consumer_offset(s, c, req).await,
        C::GetMaxOffset => queue_requests::max_offset(s, c, req).await,
        C::GetMinOffset => queue_requests::min_offset(s, c, req).await,
        C::GetEarliestMsgStoretime => queue_requests::earliest_store_time(s, c, req).await,
        C::SearchOffsetByTimestamp => queue_requests::search_offset(s, c, req).await,
        C::QueryMessage => query::query_message(s, c, req).await,
        C::ViewMessageById => query::view_message(s, c, req).await,
        C::UpdateAndCreateTopic => admin::create_topic(s, c, req).await,
        C::DeleteTopicInBroker => admin::delete_topic(s, c, req).await,
        C::GetAllTopicConfig => admin::all_topic_config(s, c, req).await,
        C::UpdateAndCreateSubscriptiongroup => admin::create_group(s, c, req).await,
        C::GetAllSubscriptiongroupConfig => admin::all_group_config(s, c, req).await,
        C::DeleteSubscriptiongroup => admin::delete_group(s, c, req).await,
        C::GetBrokerRuntimeInfo => admin::runtime_info(s, c, req).await,
        C::GetTopicStatsInfo => admin::topic_stats(s, c, req).await,
        C::GetConsumeStats => admin::consume_stats(s, c, req).await,
        C::GetConsumerConnectionList => admin::consumer_connections(s, c, req).await,
        C::QueryTopicConsumeByWho => admin::consumed_by(s, c, req).await,
        C::InvokeBrokerToResetOffset => admin::reset_offset(s, c, req).await,
        C::GetProducerConnectionList => admin::producer_connections(s, c, req).await,
        C::GetConsumerRunningInfo => call_consumer::running_info(s, c, req).await,
        C::ConsumeMessageDirectly => call_consumer::consume_directly(s, c, req).await,
        C::ViewBrokerStatsData => stats::view_stats(s, c, req).await,
        C::CloneGroupOffset => admin::clone_group_offset(s, c, req).await,
        _ if req.is_oneway() => None,
        _ => Some(not_supported(&req)),
    }
}
