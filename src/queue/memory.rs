//! The in-process queue: a bounded tokio channel for raw updates.
//!
//! Backpressure is the channel's: `publish` waits while it is full. Deliveries stay counted
//! as in flight until acknowledged. The dead-letter topic keeps the last 1,000 rejected
//! messages with their reasons (and counts all of them); alerts and enriched products are
//! broadcast to whoever subscribes in process (nothing does in the binary: the console's
//! toasts come from its own queries), and not even encoded when nobody does.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc};

use super::{Delivery, DeliveryTag, Message, Queue, QueueError, Topic};
use crate::component::{BoxFuture, ComponentHealth};

const DEAD_LETTERS_KEPT: usize = 1_000;

/// A rejected message and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    /// The original message.
    pub message: Message,
    /// The validation error.
    pub reason: String,
}

/// The in-process queue.
pub struct MemoryQueue {
    tx: Mutex<Option<mpsc::Sender<Message>>>,
    rx: tokio::sync::Mutex<mpsc::Receiver<Message>>,
    capacity: usize,
    next_offset: AtomicI64,
    in_flight: AtomicU64,
    dead: Mutex<VecDeque<DeadLetter>>,
    dead_total: AtomicU64,
    alerts: broadcast::Sender<Message>,
    enriched: broadcast::Sender<Message>,
}

impl MemoryQueue {
    /// A queue holding at most `capacity` raw updates.
    pub fn new(capacity: usize) -> Self {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        MemoryQueue {
            tx: Mutex::new(Some(tx)),
            rx: tokio::sync::Mutex::new(rx),
            capacity: capacity.max(1),
            next_offset: AtomicI64::new(0),
            in_flight: AtomicU64::new(0),
            dead: Mutex::new(VecDeque::new()),
            dead_total: AtomicU64::new(0),
            alerts: broadcast::channel(1_024).0,
            enriched: broadcast::channel(1_024).0,
        }
    }

    /// Subscribes to the alerts topic.
    pub fn subscribe_alerts(&self) -> broadcast::Receiver<Message> {
        self.alerts.subscribe()
    }

    /// Subscribes to the enriched-products topic.
    pub fn subscribe_enriched(&self) -> broadcast::Receiver<Message> {
        self.enriched.subscribe()
    }

    /// The dead letters kept, oldest first.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.dead
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }

    fn sender(&self) -> Option<mpsc::Sender<Message>> {
        self.tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn queued(&self) -> u64 {
        self.sender()
            .map_or(0, |s| (s.max_capacity() - s.capacity()) as u64)
    }

    fn push_dead(&self, message: Message, reason: String) {
        tracing::warn!(key = %message.key, reason = %reason, "Sent a raw update to the dead-letter topic.");
        let mut dead = self.dead.lock().unwrap_or_else(PoisonError::into_inner);
        if dead.len() == DEAD_LETTERS_KEPT {
            dead.pop_front();
        }
        dead.push_back(DeadLetter { message, reason });
        self.dead_total.fetch_add(1, Ordering::Relaxed);
    }
}

impl Queue for MemoryQueue {
    fn publish(&self, topic: Topic, batch: Vec<Message>) -> BoxFuture<'_, Result<(), QueueError>> {
        Box::pin(async move {
            match topic {
                Topic::RawUpdates => {
                    let tx = self.sender().ok_or(QueueError::Closed)?;
                    for m in batch {
                        tx.send(m).await.map_err(|_| QueueError::Closed)?;
                    }
                }
                Topic::Alerts => batch.into_iter().for_each(|m| drop(self.alerts.send(m))),
                Topic::Enriched => batch.into_iter().for_each(|m| drop(self.enriched.send(m))),
                Topic::DeadLetter => {
                    for m in batch {
                        self.push_dead(m, "published to the dead-letter topic".into());
                    }
                }
            }
            Ok(())
        })
    }

    fn listened(&self, topic: Topic) -> bool {
        match topic {
            Topic::Alerts => self.alerts.receiver_count() > 0,
            Topic::Enriched => self.enriched.receiver_count() > 0,
            Topic::RawUpdates | Topic::DeadLetter => true,
        }
    }

    fn consume(
        &self,
        max: usize,
        wait: Duration,
    ) -> BoxFuture<'_, Result<Vec<Delivery>, QueueError>> {
        Box::pin(async move {
            let mut rx = self.rx.lock().await;
            let first = match tokio::time::timeout(wait, rx.recv()).await {
                Err(_) => return Ok(Vec::new()),
                Ok(None) => return Err(QueueError::Closed),
                Ok(Some(m)) => m,
            };
            let mut messages = vec![first];
            while messages.len() < max {
                match rx.try_recv() {
                    Ok(m) => messages.push(m),
                    Err(_) => break,
                }
            }
            let out: Vec<Delivery> = messages
                .into_iter()
                .map(|message| {
                    let offset = self.next_offset.fetch_add(1, Ordering::Relaxed);
                    Delivery {
                        tag: DeliveryTag {
                            partition: 0,
                            offset,
                        },
                        message,
                    }
                })
                .collect();
            self.in_flight
                .fetch_add(out.len() as u64, Ordering::Relaxed);
            Ok(out)
        })
    }

    fn ack(&self, tags: Vec<DeliveryTag>) -> BoxFuture<'_, Result<(), QueueError>> {
        Box::pin(async move {
            let n = tags.len() as u64;
            let _ = self
                .in_flight
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                    Some(v.saturating_sub(n))
                });
            Ok(())
        })
    }

    fn dead_letter(
        &self,
        delivery: Delivery,
        reason: String,
    ) -> BoxFuture<'_, Result<(), QueueError>> {
        Box::pin(async move {
            self.push_dead(delivery.message, reason);
            self.ack(vec![delivery.tag]).await
        })
    }

    fn depth(&self) -> u64 {
        self.queued() + self.in_flight.load(Ordering::Relaxed)
    }

    fn dead_lettered(&self) -> u64 {
        self.dead_total.load(Ordering::Relaxed)
    }

    fn close(&self) {
        self.tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    fn health(&self) -> BoxFuture<'_, ComponentHealth> {
        Box::pin(async move {
            // Depth and dead letters are reported next to this by the status snapshot.
            let detail = format!(
                "bounded in-process channel of {}",
                crate::domain::text::thousands(self.capacity as u64)
            );
            if self.sender().is_none() {
                ComponentHealth::down("memory", "closed")
            } else if self.depth() as usize >= self.capacity {
                ComponentHealth::degraded("memory", format!("full: {detail}"))
            } else {
                ComponentHealth::ok("memory", detail)
            }
        })
    }
}
