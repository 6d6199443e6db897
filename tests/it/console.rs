//! The console: frames as an operator sees them, key sequences through the reducer, the
//! store answers it loads, and the real binary in a pseudo-terminal.

mod feed;
mod pty;
mod reducer;
mod snapshots;
