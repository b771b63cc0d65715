/**
 * The REST API's plain edits of the DCS — PATCH and PUT /config, DELETE /switchover — as
 * Patroni's api.py decides them, without the I/O: given a fresh view of the cluster, either the
 * answer at once, or the one key to write (compare-and-set where Patroni does) and the answer
 * for each way the write can end. The dcsEdit machine (src/machines/dcs-edit.ts) carries it out.
 */
import { cloneJson, deepCompare, patchConfig, plainJson } from '../config/patch-config.ts';
import type { ClusterView } from './view.ts';

type Dict = Record<string, unknown>;

export type DcsEdit =
  /** PATCH /config: merged into /config (validated by the route). */
  | { kind: 'patchConfig'; patch: Dict }
  /** PUT /config: /config replaced. */
  | { kind: 'replaceConfig'; config: Dict }
  /** DELETE /switchover: a scheduled request removed from /failover. */
  | { kind: 'cancelScheduledSwitchover' };

/** An answer of the REST API: a JSON body, or Patroni's text. */
export type EditAnswer = { status: number; json: unknown } | { status: number; text: string };

export type EditPlan =
  | {
      kind: 'answer';
      answer: EditAnswer;
      /** Run the HA decisions now (PATCH /config, as Patroni: even when nothing changed). */
      wake: boolean;
    }
  | {
      kind: 'write';
      key: 'config' | 'failover';
      value: Dict;
      /** Compare-and-set on this mod_revision; absent: a plain put. */
      index?: string;
      written: EditAnswer;
      /** The compare-and-set found another revision (or the put was refused). */
      refused: EditAnswer;
      /** The write failed (etcd unreachable, a timeout). */
      failed: EditAnswer;
      wake: boolean;
    };

const CONFIG_UNREADABLE: EditAnswer = { status: 503, text: 'Service Unavailable: DCS is not accessible' };
const CONFIG_NOT_WRITTEN: EditAnswer = {
  status: 502,
  text: 'Bad Gateway: could not write the configuration to the DCS',
};

/** The answer when the cluster cannot be read at all. */
export function unreadableAnswer(edit: DcsEdit): EditAnswer {
  return edit.kind === 'cancelScheduledSwitchover'
    ? { status: 503, text: 'DCS is not accessible' }
    : CONFIG_UNREADABLE;
}

export function planEdit(view: ClusterView, edit: DcsEdit): EditPlan {
  switch (edit.kind) {
    case 'patchConfig': {
      const current = view.config;
      if (!current?.index || current.index === '0') {
        return {
          kind: 'answer',
          answer: { status: 503, text: 'Service Unavailable: the cluster has no configuration in the DCS' },
          wake: false,
        };
      }
      const data = cloneJson(current.data);
      const changed = patchConfig(data, edit.patch);
      const after = plainJson(data) as Dict;
      if (!changed) return { kind: 'answer', answer: { status: 200, json: after }, wake: true };
      return {
        kind: 'write',
        key: 'config',
        value: after,
        index: current.index,
        written: { status: 200, json: after },
        // Someone else changed /config since our read (compare-and-set on its mod_revision).
        refused: { status: 409, text: 'Conflict' },
        failed: CONFIG_UNREADABLE,
        wake: true,
      };
    }
    case 'replaceConfig': {
      const body = plainJson(edit.config) as Dict;
      // Patroni 3.0.2 crashes when /config is absent; later versions write it: so do we.
      if (view.config && deepCompare(edit.config, view.config.data)) {
        return { kind: 'answer', answer: { status: 200, json: body }, wake: false };
      }
      return {
        kind: 'write',
        key: 'config',
        value: body,
        written: { status: 200, json: body },
        refused: CONFIG_NOT_WRITTEN,
        failed: CONFIG_NOT_WRITTEN,
        wake: false,
      };
    }
    case 'cancelScheduledSwitchover': {
      const failover = view.failover;
      if (!failover?.scheduled_at) {
        return { kind: 'answer', answer: { status: 404, text: 'no switchover is scheduled' }, wake: false };
      }
      const conflict = { status: 409, text: 'Conflict' };
      return {
        kind: 'write',
        key: 'failover',
        value: {},
        index: failover.index,
        written: { status: 200, text: 'scheduled switchover deleted' },
        refused: conflict,
        failed: conflict,
        wake: false,
      };
    }
  }
}
