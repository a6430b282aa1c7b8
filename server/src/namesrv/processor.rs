//! Request handlers of the name server, one per request code, answering
//! as Java 4.9.7's `DefaultRequestProcessor` does (reference §3.1): same
//! response codes, remarks, headers and bodies.
//!
//! Responses of commands whose Java handler declares a response header
//! class (REGISTER_BROKER, QUERY_DATA_VERSION, GET_KV_CONFIG,
//! WIPE/ADD_WRITE_PERM_OF_BROKER) always carry `extFields`, `{}` when no
//! field is set; the others carry none.
//!
//! Differences from Java, on purpose:
//!
//! * A request code the name server does not serve is answered with
//!   REQUEST_CODE_NOT_SUPPORTED and Java's remark `" request type <code>
//!   not supported"` (reference §1.9). Apache's name server, whose default
//!   processor takes every code, sends no answer at all and lets the caller
//!   time out.
//! * A missing or unparsable mandatory header field is answered with
//!   SYSTEM_ERROR naming the field; Java logs it and goes on with `null`.
//!   Java clients always send these fields. The exception is
//!   PUT_KV_CONFIG, which keeps Java's "namespace or key is null".
//! * SYSTEM_ERROR remarks for undecodable bodies describe the problem
//!   rather than a Java exception and stack frame.

use std::net::SocketAddr;

use ringmq_remoting::body::register_broker_body::RegisterBrokerBody;
use ringmq_remoting::body::route_data::RouteEncoding;
use ringmq_remoting::body::topic_config::{DataVersion, TopicConfigSerializeWrapper};
use ringmq_remoting::version::V3_0_11;
use ringmq_remoting::{
    AddWritePermOfBrokerRequestHeader, AddWritePermOfBrokerResponseHeader,
    DeleteKVConfigRequestHeader, DeleteTopicFromNamesrvRequestHeader, GetKVConfigRequestHeader,
    GetKVConfigResponseHeader, GetKVListByNamespaceRequestHeader, GetRouteInfoRequestHeader,
    GetTopicsByClusterRequestHeader, HeaderError, PutKVConfigRequestHeader,
    QueryDataVersionRequestHeader, QueryDataVersionResponseHeader, RegisterBrokerRequestHeader,
    RegisterBrokerResponseHeader, RemotingCommand, RequestCode, ResponseCode,
    UnRegisterBrokerRequestHeader, WipeWritePermOfBrokerRequestHeader,
    WipeWritePermOfBrokerResponseHeader,
};

use super::config::{parse_properties, PROTECTED_KEYS};
use super::crc32::java_crc32;
use super::kv_config::NAMESPACE_ORDER_TOPIC_CONFIG;
use super::route_table::Registration;
use super::NameServer;

/// Java `FAQUrl.APPLY_TOPIC_URL`.
pub const APPLY_TOPIC_URL: &str = "http://rocketmq.apache.org/docs/faq/";

/// Java `FAQUrl.suggestTodo`: the suffix appended to some remarks.
pub fn suggest_todo(url: &str) -> String {
    format!("\nSee {url} for further details.")
}

/// The TOPIC_NOT_EXIST remark for `topic`.
pub fn topic_not_exist_remark(topic: &str) -> String {
    format!(
        "No topic route info in name server for the topic: {topic}{}",
        suggest_todo(APPLY_TOPIC_URL)
    )
}

/// The REQUEST_CODE_NOT_SUPPORTED remark for `code` (reference §1.9).
pub fn not_supported_remark(code: i32) -> String {
    format!(" request type {code} not supported")
}

type Handled = Result<RemotingCommand, HeaderError>;

fn success(req: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(req, ResponseCode::Success, None)
}

fn fail(req: &RemotingCommand, code: ResponseCode, remark: impl Into<String>) -> RemotingCommand {
    RemotingCommand::response_to(req, code, Some(remark.into()))
}

impl NameServer {
    /// Answers one request (oneway or not; the caller drops the answer of
    /// a oneway request).
    pub(super) fn process(
        &mut self,
        req: &RemotingCommand,
        conn: u64,
        peer: SocketAddr,
        now_ms: i64,
    ) -> RemotingCommand {
        let result = match req.request_code() {
            RequestCode::PutKvConfig => self.put_kv_config(req),
            RequestCode::GetKvConfig => self.get_kv_config(req),
            RequestCode::DeleteKvConfig => self.delete_kv_config(req),
            RequestCode::QueryDataVersion => self.query_data_version(req, now_ms),
            RequestCode::RegisterBroker => self.register_broker(req, conn, now_ms),
            RequestCode::UnregisterBroker => self.unregister_broker(req),
            RequestCode::GetRouteinfoByTopic => self.get_route_info(req),
            RequestCode::GetBrokerClusterInfo => {
                Ok(success(req).with_body(self.routes.cluster_info().encode()))
            }
            RequestCode::WipeWritePermOfBroker => self.wipe_write_perm(req),
            RequestCode::AddWritePermOfBroker => self.add_write_perm(req),
            RequestCode::GetAllTopicListFromNameserver => {
                Ok(success(req).with_body(self.routes.all_topics().encode()))
            }
            RequestCode::DeleteTopicInNamesrv => self.delete_topic(req),
            RequestCode::GetKvlistByNamespace => self.get_kv_list(req),
            RequestCode::GetTopicsByCluster => self.get_topics_by_cluster(req),
            RequestCode::GetSystemTopicListFromNs => {
                Ok(success(req).with_body(self.routes.system_topics().encode()))
            }
            RequestCode::GetUnitTopicList => {
                Ok(success(req).with_body(self.routes.unit_topics().encode()))
            }
            RequestCode::GetHasUnitSubTopicList => {
                Ok(success(req).with_body(self.routes.has_unit_sub_topics().encode()))
            }
            RequestCode::GetHasUnitSubUnunitTopicList => {
                Ok(success(req).with_body(self.routes.has_unit_sub_non_unit_topics().encode()))
            }
            RequestCode::UpdateNamesrvConfig => Ok(self.update_config(req, peer)),
            RequestCode::GetNamesrvConfig => {
                Ok(success(req).with_body(self.props.to_text().into_bytes()))
            }
            _ => Ok(fail(
                req,
                ResponseCode::RequestCodeNotSupported,
                not_supported_remark(req.code),
            )),
        };
        result.unwrap_or_else(|e| {
            tracing::warn!(code = req.code, %peer, error = %e, "name server request failed");
            fail(req, ResponseCode::SystemError, e.to_string())
        })
    }

    fn put_kv_config(&mut self, req: &RemotingCommand) -> Handled {
        if req.ext_field("namespace").is_none() || req.ext_field("key").is_none() {
            return Ok(fail(
                req,
                ResponseCode::SystemError,
                "namespace or key is null",
            ));
        }
        let h: PutKVConfigRequestHeader = req.decode_header()?;
        self.kv.put(&h.namespace, &h.key, &h.value);
        Ok(success(req))
    }

    fn get_kv_config(&self, req: &RemotingCommand) -> Handled {
        let h: GetKVConfigRequestHeader = req.decode_header()?;
        let value = self.kv.get(&h.namespace, &h.key).map(str::to_owned);
        let mut resp = match value {
            Some(_) => success(req),
            None => fail(
                req,
                ResponseCode::QueryNotFound,
                format!("No config item, Namespace: {} Key: {}", h.namespace, h.key),
            ),
        };
        resp.encode_header(&GetKVConfigResponseHeader { value });
        Ok(resp)
    }

    fn delete_kv_config(&mut self, req: &RemotingCommand) -> Handled {
        let h: DeleteKVConfigRequestHeader = req.decode_header()?;
        self.kv.delete(&h.namespace, &h.key);
        Ok(success(req))
    }

    fn get_kv_list(&self, req: &RemotingCommand) -> Handled {
        let h: GetKVListByNamespaceRequestHeader = req.decode_header()?;
        Ok(match self.kv.namespace_body(&h.namespace) {
            Some(body) => success(req).with_body(body),
            None => fail(
                req,
                ResponseCode::QueryNotFound,
                format!("No config item, Namespace: {}", h.namespace),
            ),
        })
    }

    fn register_broker(&mut self, req: &RemotingCommand, conn: u64, now_ms: i64) -> Handled {
        let h: RegisterBrokerRequestHeader = req.decode_header()?;
        let mut resp = success(req);
        resp.ext_fields_mut();
        if let Some(expected) = h.body_crc32.filter(|c| *c != 0) {
            if java_crc32(&req.body) != expected {
                tracing::warn!(broker = %h.broker_addr, "REGISTER_BROKER body crc32 mismatch");
                resp.code = ResponseCode::SystemError.to_i32();
                resp.remark = Some("crc32 not match".to_owned());
                return Ok(resp);
            }
        }
        // Brokers before V3_0_11 send a bare topic table and no filter
        // server list (leaving the stored one alone); an empty body means
        // "no topics, version {0,0}".
        let (topics, filter_servers) = if req.body.is_empty() {
            let filters = (req.version >= V3_0_11).then(Vec::new);
            (TopicConfigSerializeWrapper::default(), filters)
        } else if req.version >= V3_0_11 {
            let body = RegisterBrokerBody::decode(&req.body, h.compressed).map_err(|e| {
                HeaderError::InvalidBody(format!("Failed to decode RegisterBrokerBody: {e}"))
            })?;
            (
                body.topic_config_serialize_wrapper,
                Some(body.filter_server_list),
            )
        } else {
            (TopicConfigSerializeWrapper::decode(&req.body)?, None)
        };
        let result = self.routes.register_broker(
            &Registration {
                cluster_name: &h.cluster_name,
                broker_addr: &h.broker_addr,
                broker_name: &h.broker_name,
                broker_id: h.broker_id,
                ha_server_addr: &h.ha_server_addr,
                topics: &topics,
                filter_server_list: filter_servers.as_deref(),
            },
            conn,
            now_ms,
        );
        resp.encode_header(&RegisterBrokerResponseHeader {
            ha_server_addr: result.ha_server_addr,
            master_addr: result.master_addr,
        });
        if let Some(body) = self.kv.namespace_body(NAMESPACE_ORDER_TOPIC_CONFIG) {
            resp.body = body.into();
        }
        Ok(resp)
    }

    fn unregister_broker(&mut self, req: &RemotingCommand) -> Handled {
        let h: UnRegisterBrokerRequestHeader = req.decode_header()?;
        tracing::info!(broker = %h.broker_addr, name = %h.broker_name, "broker unregistered");
        self.routes
            .unregister_broker(&h.cluster_name, &h.broker_addr, &h.broker_name, h.broker_id);
        Ok(success(req))
    }

    fn query_data_version(&mut self, req: &RemotingCommand, now_ms: i64) -> Handled {
        let h: QueryDataVersionRequestHeader = req.decode_header()?;
        if req.body.is_empty() {
            return Err(HeaderError::InvalidBody(
                "QUERY_DATA_VERSION without a DataVersion body".to_owned(),
            ));
        }
        let version = DataVersion::decode(&req.body)?;
        let changed = self
            .routes
            .is_broker_topic_config_changed(&h.broker_addr, &version);
        if !changed {
            self.routes.touch(&h.broker_addr, now_ms);
        }
        let mut resp = success(req);
        if let Some(stored) = self.routes.data_version(&h.broker_addr) {
            resp.body = stored.encode().into();
        }
        resp.encode_header(&QueryDataVersionResponseHeader { changed });
        Ok(resp)
    }

    fn get_route_info(&self, req: &RemotingCommand) -> Handled {
        let h: GetRouteInfoRequestHeader = req.decode_header()?;
        let Some(mut route) = self.routes.pickup_topic_route(&h.topic) else {
            return Ok(fail(
                req,
                ResponseCode::TopicNotExist,
                topic_not_exist_remark(&h.topic),
            ));
        };
        if self.cfg.order_message_enable {
            route.order_topic_conf = self
                .kv
                .get(NAMESPACE_ORDER_TOPIC_CONFIG, &h.topic)
                .map(str::to_owned);
        }
        let encoding = RouteEncoding::for_caller(req.version, h.accept_standard_json_only);
        Ok(success(req).with_body(route.encode(encoding)))
    }

    fn wipe_write_perm(&mut self, req: &RemotingCommand) -> Handled {
        let h: WipeWritePermOfBrokerRequestHeader = req.decode_header()?;
        let wipe_topic_count = self.routes.wipe_write_perm(&h.broker_name);
        tracing::info!(broker = %h.broker_name, topics = wipe_topic_count, "write permission wiped");
        let mut resp = success(req);
        resp.encode_header(&WipeWritePermOfBrokerResponseHeader { wipe_topic_count });
        Ok(resp)
    }

    fn add_write_perm(&mut self, req: &RemotingCommand) -> Handled {
        let h: AddWritePermOfBrokerRequestHeader = req.decode_header()?;
        let add_topic_count = self.routes.add_write_perm(&h.broker_name);
        tracing::info!(broker = %h.broker_name, topics = add_topic_count, "write permission added");
        let mut resp = success(req);
        resp.encode_header(&AddWritePermOfBrokerResponseHeader { add_topic_count });
        Ok(resp)
    }

    fn delete_topic(&mut self, req: &RemotingCommand) -> Handled {
        let h: DeleteTopicFromNamesrvRequestHeader = req.decode_header()?;
        match h.cluster_name.as_deref().filter(|c| !c.is_empty()) {
            Some(cluster) => self.routes.delete_topic_in_cluster(&h.topic, cluster),
            None => self.routes.delete_topic(&h.topic),
        }
        Ok(success(req))
    }

    fn get_topics_by_cluster(&self, req: &RemotingCommand) -> Handled {
        let h: GetTopicsByClusterRequestHeader = req.decode_header()?;
        Ok(success(req).with_body(self.routes.topics_by_cluster(&h.cluster).encode()))
    }

    fn update_config(&mut self, req: &RemotingCommand, peer: SocketAddr) -> RemotingCommand {
        tracing::info!(%peer, "UPDATE_NAMESRV_CONFIG");
        if req.body.is_empty() {
            return success(req);
        }
        let text = String::from_utf8_lossy(&req.body);
        let props = parse_properties(&text);
        if props
            .iter()
            .any(|(k, _)| PROTECTED_KEYS.contains(&k.as_str()))
        {
            return fail(
                req,
                ResponseCode::NoPermission,
                "Can not update config path",
            );
        }
        if let Some(order) = self.props.update(&props) {
            self.cfg.order_message_enable = order;
        }
        success(req)
    }
}
