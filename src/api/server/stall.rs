//! A connection whose client stops reading: hyper writes an answer for as long as the
//! socket takes it, and waits for ever when it takes nothing, holding the answer (megabytes
//! for a large page of opportunities) and the task. [`StallGuard`] fails a write that has
//! made no progress for its stall time, which closes the connection.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// A stream whose writes fail once one has waited `stall` without the peer taking a byte.
pub struct StallGuard<S> {
    inner: S,
    stall: Duration,
    /// Started when a write first waits; cleared by any write that goes through.
    waiting: Option<Pin<Box<Sleep>>>,
}

impl<S> StallGuard<S> {
    pub fn new(inner: S, stall: Duration) -> Self {
        StallGuard {
            inner,
            stall,
            waiting: None,
        }
    }

    /// After a write was polled: progress clears the clock; waiting starts it, and fails
    /// once it has run out.
    fn watch<T>(
        &mut self,
        polled: Poll<io::Result<T>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<T>> {
        match polled {
            Poll::Ready(r) => {
                self.waiting = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                let stall = self.stall;
                let clock = self
                    .waiting
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
                match clock.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "the client read nothing of its answer for {} s",
                            stall.as_secs_f64()
                        ),
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for StallGuard<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StallGuard<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(polled, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(polled, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(polled, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A peer that reads nothing fails the write once the stall time passes; one that
    /// reads slowly but steadily never does.
    #[tokio::test(start_paused = true)]
    async fn a_write_the_peer_never_reads_fails_and_a_slow_reader_is_served() {
        let stall = Duration::from_secs(20);
        let (ours, _peer) = tokio::io::duplex(64);
        let mut guarded = StallGuard::new(ours, stall);
        let err = guarded.write_all(&[7; 1024]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");

        let (ours, mut peer) = tokio::io::duplex(64);
        let mut guarded = StallGuard::new(ours, stall);
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut chunk = [0; 16];
            while got.len() < 1024 {
                // Slower than the whole answer's stall time, never a stall itself.
                tokio::time::sleep(Duration::from_secs(5)).await;
                let n = peer.read(&mut chunk).await.unwrap();
                got.extend_from_slice(&chunk[..n]);
            }
            got
        });
        guarded.write_all(&[7; 1024]).await.unwrap();
        assert_eq!(reader.await.unwrap(), vec![7; 1024]);
    }
}
