/**
 * The database clock minus the local clock, estimated from round trips. The database reads its
 * clock somewhere between sending and receiving, so a sample is off by at most half its round
 * trip: a round trip that waited for a connection or behind a lock says little. The estimate
 * keeps the tightest recent sample (as NTP does), and takes a looser one only when the kept
 * sample is old enough for the clocks to have drifted.
 */

/** A kept sample older than this is replaced by the next one, however loose. */
const STALE_MS = 60_000;
/** A sample this much looser than the kept one still replaces it (fresher, about as good). */
const SLACK_MS = 2;

/** Running estimate of the database clock's offset from the local clock. */
export class ClockOffset {
  /** Database clock minus local clock, ms (0 until the first sample). */
  ms = 0;
  private rttMs = Infinity;
  private sampledAt = -Infinity;

  /**
   * Record that the database read `dbMs` on its clock between local `sentAt` and `receivedAt`
   * (epoch ms); returns the estimate.
   */
  sample(dbMs: number, sentAt: number, receivedAt: number): number {
    const rtt = Math.max(0, receivedAt - sentAt);
    if (rtt <= this.rttMs + SLACK_MS || receivedAt - this.sampledAt > STALE_MS) {
      this.ms = dbMs - (sentAt + receivedAt) / 2;
      this.rttMs = rtt;
      this.sampledAt = receivedAt;
    }
    return this.ms;
  }
}
