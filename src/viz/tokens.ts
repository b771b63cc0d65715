/**
 * Stream tokens: a browser cannot send an Authorization header with a WebSocket, so the page
 * asks GET /ui/token (guarded like every /ui route) for a token that opens /ui/stream for a
 * minute. A token is an expiry signed with a key this process made at start (HMAC-SHA256).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const VALID_MS = 60_000;

export class StreamTokens {
  private readonly key = randomBytes(32);

  constructor(private readonly now: () => number = Date.now) {}

  issue(): string {
    const expires = String(this.now() + VALID_MS);
    return `${expires}.${this.sign(expires)}`;
  }

  valid(token: string | null | undefined): boolean {
    const [expires, sig] = (token ?? '').split('.');
    if (!expires || !sig || !/^\d+$/.test(expires) || Number(expires) < this.now()) return false;
    const want = Buffer.from(this.sign(expires));
    const got = Buffer.from(sig);
    return want.length === got.length && timingSafeEqual(want, got);
  }

  private sign(text: string): string {
    return createHmac('sha256', this.key).update(text).digest('base64url');
  }
}
