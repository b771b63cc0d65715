/**
 * Failsafe mode at run time (rules: src/cluster/failsafe.ts; decisions: the election machine).
 *  - answerFailsafe: what this node answers a leader asking to be confirmed (POST /failsafe, or a
 *    gossip `failsafe` frame): the election decides (FAILSAFE_ACCEPTED), this reads its answer.
 *  - confirmFailsafe: the leader asking every member /failsafe names, over gossip first and
 *    POST /failsafe otherwise (2 s, one retry, as Patroni), each counted only on 200 `Accepted`.
 */
import type { AnyActorRef } from 'xstate';
import { type Clock, monotonicNow } from '../actors/clock.ts';
import { FAILSAFE_POST_TIMEOUT_MS } from '../cluster/failsafe.ts';
import type { ActionResult } from '../http/operations.ts';
import type { FailsafeConfirmation } from '../machines/election/index.ts';
import type { NodeActor } from '../machines/node/index.ts';

/** What a leader asking to be confirmed sends (POST /failsafe's body, Patroni's fields). */
export interface FailsafeRequest {
  name: string;
  conn_url: string;
  api_url: string;
}

/** The answer Patroni's leader counts as a confirmation (status and exact text). */
export const ACCEPTED: ActionResult = { status: 200, text: 'Accepted' };

/** What POST /failsafe from `leader` is answered here (see the election's FAILSAFE_ACCEPTED). */
export function answerFailsafe(actor: NodeActor, leader: string): ActionResult {
  const snapshot = actor.getSnapshot();
  if (snapshot.context.settings.failsafe_mode !== true) return { status: 502, text: 'Bad Gateway' };
  const election = snapshot.children['election'] as AnyActorRef | undefined;
  // Starting or stopping: no election to hold back; the leader must not count on this node.
  if (!election) return { status: 503, text: 'Not ready to confirm a leader' };
  const accepted = () =>
    (election.getSnapshot() as { context: { failsafeAccepted: number } }).context.failsafeAccepted;
  const before = accepted();
  election.send({ type: 'FAILSAFE_ACCEPTED', leader });
  return accepted() !== before ? ACCEPTED : { status: 500, text: 'Running as a leader' };
}

export interface ConfirmHost {
  clock: Clock;
  /** This node as the leader names itself. */
  request(): FailsafeRequest;
  /** Over gossip: the answer, or null without an open link or an answer in time. */
  askOverGossip(name: string, request: FailsafeRequest): Promise<ActionResult | null>;
  /** POST /failsafe to `apiUrl`: the answer, or null when none came within `timeoutMs`. */
  post(apiUrl: string, request: FailsafeRequest, timeoutMs: number): Promise<ActionResult | null>;
  log(msg: string): void;
}

/** Every member asked at once; confirmed only if each answered 200 `Accepted`. */
export async function confirmFailsafe(
  h: ConfirmHost,
  members: ReadonlyArray<{ name: string; apiUrl: string }>,
): Promise<FailsafeConfirmation> {
  const started = monotonicNow(h.clock);
  const request = h.request();
  const answers = await Promise.all(
    members.map(async (m) => {
      let answer = await h.askOverGossip(m.name, request);
      // Patroni's request: 2 s, one retry.
      answer ??= await h.post(m.apiUrl, request, FAILSAFE_POST_TIMEOUT_MS);
      answer ??= await h.post(m.apiUrl, request, FAILSAFE_POST_TIMEOUT_MS);
      const ok = answer?.status === ACCEPTED.status && answer.text === ACCEPTED.text;
      h.log(`failsafe: ${m.name} ${answer ? `answered ${answer.status} ${answer.text}` : 'did not answer'}`);
      return ok;
    }),
  );
  return { confirmed: answers.every(Boolean), elapsedMs: monotonicNow(h.clock) - started };
}
