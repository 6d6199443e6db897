//! The console: frames as an operator sees them, key sequences through the reducer, and
//! the real binary in a pseudo-terminal.

mod pty;
mod reducer;
mod snapshots;
