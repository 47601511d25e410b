//! Watching a rollout to its end on Kubernetes: the Application synced to the pushed revision and Healthy, every pod running the promoted digest, and why not when it fails (the Deployment's and pods' own words); no fixed sleeps.

use super::*;

/// One rollout being watched: the Application `name` in `namespace`, the pushed `revision` and
/// the `image` the chart names.
#[derive(Clone, Copy)]
pub(super) struct Rollout<'a> {
    pub(super) name: &'a str,
    pub(super) namespace: &'a str,
    pub(super) revision: &'a str,
    pub(super) image: &'a str,
    pub(super) reporter: &'a dyn Reporter,
}

impl KubeTarget {
    /// Watches the Application until it is Synced to `revision` and Healthy. A watch ended by
    /// the server (or a stale resource version) reads the Application afresh and watches on.
    /// A `Degraded` health at the revision fails the rollout only when the workload in
    /// `namespace` confirms it ([`KubeTarget::degraded_is_final`]); otherwise it waits on.
    pub(super) async fn await_rollout(
        &self,
        name: &str,
        namespace: &str,
        desired: &DesiredState,
        timeout: Duration,
        reporter: &dyn Reporter,
    ) -> Result<()> {
        let revision = desired.revision.as_str();
        let image = chart_image(desired);
        let applications = self.applications(namespace);
        let rollout = Rollout {
            name,
            namespace,
            revision,
            image: &image,
            reporter,
        };
        let mut last: Option<ApplicationStatus> = None;
        let watching = async {
            loop {
                let object = self.get_application(&applications, namespace, name).await?;
                if self.judge(&rollout, &object, &mut last).await? {
                    return Ok(());
                }
                let version = object.metadata.resource_version.clone().unwrap_or_default();
                let params = WatchParams::default()
                    .fields(&format!("metadata.name={name}"))
                    .timeout(WATCH_SECONDS);
                let mut events = Box::pin(
                    applications
                        .watch(&params, &version)
                        .await
                        .map_err(api(format!("watch application {name}")))?,
                );
                while let Some(event) = events
                    .try_next()
                    .await
                    .map_err(api(format!("watch application {name}")))?
                {
                    match event {
                        WatchEvent::Added(object) | WatchEvent::Modified(object) => {
                            if self.judge(&rollout, &object, &mut last).await? {
                                return Ok(());
                            }
                        }
                        WatchEvent::Deleted(_) => {
                            return Err(Error::Deleted {
                                application: name.to_owned(),
                            });
                        }
                        WatchEvent::Bookmark(_) => {}
                        // 410 Gone: the resource version is too old; read afresh.
                        WatchEvent::Error(status) if status.code == 410 => break,
                        WatchEvent::Error(status) => {
                            return Err(Error::Api {
                                action: format!("watch application {name}"),
                                source: ::kube::Error::Api(status),
                            });
                        }
                    }
                }
            }
        };
        let outcome = tokio::time::timeout(timeout, watching).await;
        let last = || {
            last.as_ref()
                .map_or_else(|| "nothing yet".to_owned(), ToString::to_string)
        };
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(Error::SyncFailed { reason, .. })) => Err(Error::SyncFailed {
                application: name.to_owned(),
                revision: revision.to_owned(),
                reason,
                last: last(),
            }),
            Ok(Err(e)) => Err(e),
            Err(_elapsed) => Err(Error::NotSynced {
                application: name.to_owned(),
                revision: revision.to_owned(),
                timeout,
                last: last(),
            }),
        }
    }

    /// Adds the Deployment's own rollout state to a timeout or a failed rollout's last
    /// observation (Argo CD 3.x says only `Progressing` or `Degraded`, not why). A Deployment
    /// that cannot be read leaves the error as it is.
    pub(super) async fn with_rollout_state(&self, error: Error, namespace: &str) -> Error {
        let (Error::NotSynced { last, .. } | Error::SyncFailed { last, .. }) = &error else {
            return error;
        };
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), namespace);
        let Ok(Some(deployment)) = deployments.get_opt(&self.app).await else {
            return error;
        };
        let Some(state) = pods::rollout_state(&deployment) else {
            return error;
        };
        let last = format!("{last}; deployment {namespace}/{}: {state}", self.app);
        match error {
            Error::NotSynced {
                application,
                revision,
                timeout,
                ..
            } => Error::NotSynced {
                application,
                revision,
                timeout,
                last,
            },
            Error::SyncFailed {
                application,
                revision,
                reason,
                ..
            } => Error::SyncFailed {
                application,
                revision,
                reason,
                last,
            },
            other => other,
        }
    }

    /// Records one observation of the Application; `true` once it is done, an error once it
    /// failed. Reports each new state once.
    pub(super) async fn judge(
        &self,
        rollout: &Rollout<'_>,
        object: &DynamicObject,
        last: &mut Option<ApplicationStatus>,
    ) -> Result<bool> {
        let Rollout {
            name,
            namespace,
            revision,
            image,
            reporter,
        } = *rollout;
        let status = self.status_of(name, object)?;
        if last.as_ref() != Some(&status) {
            reporter.progress("sync", format!("{name}: {status}"));
        }
        let verdict = status.verdict(revision, image);
        *last = Some(status);
        let failed = |reason| Error::SyncFailed {
            application: name.to_owned(),
            revision: revision.to_owned(),
            reason,
            last: String::new(),
        };
        match verdict {
            Verdict::Done => Ok(true),
            Verdict::Waiting => Ok(false),
            Verdict::Failed(reason) => Err(failed(reason)),
            Verdict::Degraded(health) => match self.degraded_is_final(namespace).await? {
                Some(why) => Err(failed(format!("{health}, and {why}"))),
                None => {
                    reporter.progress(
                        "sync",
                        format!("{name}: {health}, but the Deployment is progressing and no pod is crash-looping (a new HorizontalPodAutoscaler has no metrics yet); waiting"),
                    );
                    Ok(false)
                }
            },
        }
    }

    /// Why a `Degraded` Application at the pushed revision has failed for good, from its
    /// workload: the Deployment past its progress deadline, or a crash-looping pod. `None`
    /// while neither holds (a Deployment not created yet included): keep waiting.
    pub(super) async fn degraded_is_final(&self, namespace: &str) -> Result<Option<String>> {
        let Some((deployment, live)) = self.deployment(namespace).await? else {
            return Ok(None);
        };
        if pods::past_progress_deadline(&deployment) {
            return Ok(Some(format!(
                "deployment {namespace}/{} is past its progress deadline",
                self.app
            )));
        }
        Ok(pods::crash_looping(&live, &self.app).map(|pod| format!("pod {pod} is crash-looping")))
    }

    /// The Deployment of the app in `namespace` and its live pods; `None` before the first
    /// sync created it.
    pub(super) async fn deployment(
        &self,
        namespace: &str,
    ) -> Result<Option<(Deployment, Vec<Pod>)>> {
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), namespace);
        let Some(deployment) = deployments
            .get_opt(&self.app)
            .await
            .map_err(api(format!("get deployment {namespace}/{}", self.app)))?
        else {
            return Ok(None);
        };
        let selector = pods::selector(&deployment).ok_or_else(|| Error::NoSelector {
            namespace: namespace.to_owned(),
            name: self.app.clone(),
        })?;
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let mut live: Vec<Pod> = pods
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(api(format!("list pods of {namespace}/{}", self.app)))?
            .items
            .into_iter()
            .filter(pods::is_live)
            .collect();
        live.sort_by_key(pods::name);
        Ok(Some((deployment, live)))
    }

    pub(super) async fn live_pod_names(&self, namespace: &str) -> Result<Vec<String>> {
        Ok(self
            .deployment(namespace)
            .await?
            .map(|(_, pods)| pods.iter().map(pods::name).collect())
            .unwrap_or_default())
    }

    /// Checks that the Deployment finished rolling out and every live pod runs the pinned
    /// image (by digest when the values pin one, else by the build label); returns the pods.
    pub(super) async fn verify(
        &self,
        desired: &DesiredState,
        namespace: &str,
    ) -> Result<Vec<String>> {
        let Some(image) = &desired.image else {
            return Ok(Vec::new());
        };
        let (deployment, live) =
            self.deployment(namespace)
                .await?
                .ok_or_else(|| Error::NoDeployment {
                    namespace: namespace.to_owned(),
                    name: self.app.clone(),
                })?;
        if let Some(why) = pods::rollout_incomplete(&deployment) {
            return Err(Error::RolloutIncomplete {
                namespace: namespace.to_owned(),
                name: self.app.clone(),
                why,
            });
        }
        for pod in &live {
            let (expected, found, matches) = match &image.digest {
                Some(digest) => {
                    let found = pods::image_id(pod, &self.app).unwrap_or("no image yet");
                    (
                        digest.to_string(),
                        found.to_owned(),
                        pods::is_digest(found, digest.as_str()),
                    )
                }
                None => {
                    let found = pods::build(pod);
                    let expected = image.tag.to_string();
                    let matches = found == expected;
                    (expected, format!("build {found:?}"), matches)
                }
            };
            if !matches {
                return Err(Error::WrongImage {
                    namespace: namespace.to_owned(),
                    pod: pods::name(pod),
                    env: desired.env.to_string(),
                    expected,
                    found,
                });
            }
        }
        Ok(live.iter().map(pods::name).collect())
    }
}
