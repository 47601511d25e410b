//! Reaching the pods through the API server's pod proxy: probes of /health and /info, /metrics reads, and the synthetic load, all under the same get pods/proxy grant.

use super::*;

impl KubeTarget {
    /// Probes every live pod of `env` through the API server's pod proxy.
    pub async fn probe(&self, env: &EnvName) -> Result<Vec<(Replica, Probe)>> {
        let mut probes = Vec::new();
        for (replica, base) in self.probe_targets(env).await? {
            let probe = self.probe_through_proxy(&base).await;
            probes.push((replica, probe));
        }
        Ok(probes)
    }

    /// Every started pod of `env` as a replica, with its pod proxy path.
    pub(super) async fn probe_targets(&self, env: &EnvName) -> Result<Vec<(Replica, String)>> {
        let namespace = self.namespace(env)?;
        let status = self.status(env).await?;
        let revision = status
            .sync
            .revision
            .clone()
            .or_else(|| status.sync.revisions.last().cloned())
            .unwrap_or_default();
        let Some((_, live)) = self.deployment(namespace).await? else {
            return Ok(Vec::new());
        };
        // A pod still being scheduled or pulling its image serves nothing and is not a replica
        // yet (an autoscaler's new pod must not read as a failure while it starts). Every pod
        // whose containers were started is probed, ready or not: the proxy reaches it anyway,
        // and a crash-looping one fails its probe and counts its restarts.
        Ok(live
            .iter()
            .filter(|pod| pods::is_started(pod))
            .map(|pod| {
                let base = format!(
                    "/api/v1/namespaces/{namespace}/pods/{}:{APP_PORT}/proxy",
                    pods::name(pod)
                );
                (pods::replica(pod, &self.app, &revision, base.clone()), base)
            })
            .collect())
    }

    /// Reads `/metrics` of every started pod of `env` through the API server's pod proxy
    /// (the same call as the probes: `get pods/proxy`).
    pub async fn metrics(&self, env: &EnvName) -> Result<MetricsSnapshot> {
        let mut snapshot = MetricsSnapshot::default();
        for (replica, base) in self.probe_targets(env).await? {
            let read = self.proxy_get(&format!("{base}/metrics")).await;
            let parsed = read
                .map_err(|why| format!("/metrics {why}"))
                .and_then(|text| {
                    crate::metrics::parse(&replica.name, &replica.tag, &text)
                        .map_err(|e| e.to_string())
                });
            match parsed {
                Ok(read) => snapshot.replicas.push(read),
                Err(why) => snapshot.unreadable.push(format!("{}: {why}", replica.name)),
            }
        }
        Ok(snapshot)
    }

    /// Sends a synthetic `GET /` to a pod through the API server's pod proxy (the same call as
    /// the probes), given the pod's proxy path as its address; bounded by the probe timeout,
    /// and at most [`PROXY_IN_FLIGHT`] at once: each request holds one of the API server's
    /// seats, which the pipeline's own probes need too.
    pub fn load_sender(&self) -> crate::load::Sender {
        let client = self.client.clone();
        let timeout = self.probe_timeout;
        let send: crate::load::SendOne = std::sync::Arc::new(move |base: String| {
            let client = client.clone();
            Box::pin(async move {
                use crate::load::Answer;
                let Ok(request) = http::Request::get(format!("{base}/"))
                    .body(::kube::client::Body::from(Vec::new()))
                else {
                    return Answer::Unanswered;
                };
                let answered = async {
                    let response = client.send(request).await.ok()?;
                    let code = response.status().as_u16();
                    let body = response.into_body().collect_bytes().await.ok()?;
                    Some(answer_through_proxy(code, &body))
                };
                match tokio::time::timeout(timeout, answered).await {
                    Ok(Some(answer)) => answer,
                    Ok(None) | Err(_) => Answer::Unanswered,
                }
            })
        });
        crate::load::Sender {
            send,
            most_in_flight: PROXY_IN_FLIGHT,
        }
    }

    pub(super) async fn proxy_get(&self, path: &str) -> std::result::Result<String, String> {
        let request = http::Request::get(path)
            .body(Vec::new())
            .map_err(|e| e.to_string())?;
        match tokio::time::timeout(self.probe_timeout, self.client.request_text(request)).await {
            Err(_) => Err(format!(
                "no answer within {}s",
                self.probe_timeout.as_secs()
            )),
            Ok(Ok(text)) => Ok(text),
            Ok(Err(::kube::Error::Api(status))) => Err(format!("answered {}", status.code)),
            Ok(Err(e)) => Err(e.to_string()),
        }
    }

    pub(super) async fn probe_through_proxy(&self, base: &str) -> Probe {
        let mut probe = Probe {
            url: base.to_owned(),
            healthy: false,
            build_sha: None,
            problem: None,
        };
        match self.proxy_get(&format!("{base}/health")).await {
            Ok(_) => probe.healthy = true,
            Err(e) => probe.problem = Some(format!("/health {e}")),
        }
        match self.proxy_get(&format!("{base}/info")).await {
            Ok(text) => match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(info) => probe.build_sha = info["build_sha"].as_str().map(str::to_owned),
                Err(e) => {
                    probe.problem.get_or_insert(format!("/info: {e}"));
                }
            },
            Err(e) => {
                probe.problem.get_or_insert(format!("/info {e}"));
            }
        }
        probe
    }
}

/// What a synthetic request's answer through the API server's pod proxy says: a status of
/// the API server's own (a Kubernetes `Status` object, as the proxy sends when it cannot
/// reach the pod: a crashing pod's 502 or 503, a pod gone) means the pod never answered, so
/// the request is unanswered (no replica counted it); anything else is the pod's answer,
/// counted as its status says. (k8s.io/apiserver `proxy` and `responsewriters.ErrorNegotiated`
/// write errors as `{"kind":"Status","apiVersion":"v1",…}`; the services here never answer
/// with one.)
pub(crate) fn answer_through_proxy(code: u16, body: &[u8]) -> crate::load::Answer {
    use crate::load::Answer;
    if (200..300).contains(&code) {
        return Answer::Served;
    }
    let own = serde_json::from_slice::<serde_json::Value>(body)
        .is_ok_and(|v| v["kind"] == "Status" && v["apiVersion"] == "v1");
    if own {
        Answer::Unanswered
    } else {
        Answer::of_status(code)
    }
}

#[cfg(test)]
mod tests {
    use super::answer_through_proxy;
    use crate::load::Answer;

    #[test]
    fn the_proxys_own_errors_are_unanswered_and_the_pods_count_as_they_say() {
        let status = |code: u16, message: &str| {
            format!(
                r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure","message":"{message}","reason":"ServiceUnavailable","code":{code}}}"#
            )
        };
        // The proxy could not reach a crashing pod: the pod served nothing.
        let unreachable = status(
            503,
            "error trying to reach service: dial tcp 10.244.0.7:8080: connect: connection refused",
        );
        assert_eq!(
            answer_through_proxy(503, unreachable.as_bytes()),
            Answer::Unanswered
        );
        assert_eq!(
            answer_through_proxy(502, status(502, "bad gateway").as_bytes()),
            Answer::Unanswered
        );
        assert_eq!(
            answer_through_proxy(404, status(404, "pods x not found").as_bytes()),
            Answer::Unanswered
        );
        // The pod's own answers, JSON or not.
        assert_eq!(
            answer_through_proxy(500, br#"{"error":"internal"}"#),
            Answer::ServerError
        );
        assert_eq!(
            answer_through_proxy(401, br#"{"error":"unauthorized"}"#),
            Answer::Rejected
        );
        assert_eq!(
            answer_through_proxy(503, b"upstream down"),
            Answer::ServerError
        );
        assert_eq!(answer_through_proxy(200, b"{}"), Answer::Served);
    }
}
