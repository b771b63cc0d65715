import { describe, expect, it } from 'vitest';
import type { Invariant } from '../../src/testing/invariants/index.ts';
import { formatFailure, runSchedule } from '../../src/testing/runner/index.ts';
import { formatSchedule, generateSchedule, parseSchedule } from '../../src/testing/schedule/index.ts';

const NODES = 3;
const STEPS = 40;

describe('seeded simulation runner', () => {
  // The fixed CI budget of seeds lives in sim-budget.test.ts.
  it('the same seed gives the same schedule and the same outcome', async () => {
    expect(generateSchedule(7, NODES, STEPS)).toEqual(generateSchedule(7, NODES, STEPS));
    expect(generateSchedule(7, NODES, STEPS)).not.toEqual(generateSchedule(8, NODES, STEPS));
    const a = await runSchedule({ seed: 7, nodes: NODES, steps: STEPS, synchronousMode: true });
    const b = await runSchedule({ seed: 7, nodes: NODES, steps: STEPS, synchronousMode: true });
    expect(a.schedule.length).toBeGreaterThan(0);
    expect(b).toEqual(a);
  });

  it('a broken invariant is reported with its seed, the schedule up to that step and the replay command', async () => {
    const broken: Invariant = {
      name: 'always-fails-at-step-5',
      check: ({ step }) => (step === 5 ? 'injected failure' : null),
    };
    const r = await runSchedule({ seed: 4, nodes: NODES, steps: STEPS, extraInvariants: [broken] });
    expect(r.ok).toBe(false);
    expect(r.violations).toEqual([
      expect.objectContaining({ step: 5, invariant: 'always-fails-at-step-5', detail: 'injected failure' }),
    ]);
    expect(r.schedule.every((f) => f.step <= 5)).toBe(true);
    expect(r.replay).toBe('pgwarden sim --seed 4 --nodes 3 --steps 40');
    const text = formatFailure(r);
    expect(text).toContain('seed 4');
    expect(text).toContain('always-fails-at-step-5: injected failure');
    expect(text).toContain('replay: pgwarden sim --seed 4 --nodes 3 --steps 40');
  });

  it('no-needless-rewind catches the lagging timeline the status query once reported (planted)', async () => {
    // A replica that lost its stream reported pg_control's timeline, which lags a switch: it
    // looked diverged and was stopped for pg_rewind against a leader on its own timeline (seen on
    // real processes; the agent now asks IDENTIFY_SYSTEM). The simulator can play the old report.
    // Seed 1 without fast failover (the default when this was found), seed 6 with it.
    for (const [seed, fastFailover] of [
      [1, false],
      [6, true],
    ] as const) {
      const planted = await runSchedule({
        seed,
        fastFailover,
        postgres: { checkpointTimelineWhenNotStreaming: true },
      });
      expect(planted.violations.map((v) => v.invariant)).toEqual(['no-needless-rewind']);
      const fixed = await runSchedule({ seed, fastFailover });
      expect(fixed.violations).toEqual([]);
    }
  });

  // Regressions the simulator found, each kept as its explicit schedule (the generator may change).
  const NAMES = ['node1', 'node2', 'node3'];
  const regressions: Array<{
    seed: number;
    sync: boolean;
    why: string;
    schedule: string;
    checkHeal?: boolean;
    ttl?: number;
    checkTimeline?: boolean;
    nodes?: number;
    failsafe?: boolean;
  }> = [
    {
      // A frozen primary that had lost /leader was thawed, began its immediate stop and — while
      // the postmaster still ran — had synchronous_standby_names emptied, which released a commit
      // waiting for the standby: acknowledged, yet never on the new leader.
      seed: 6,
      sync: true,
      why: 'a deposed primary releasing a waiting commit',
      schedule:
        '1:freeze:node1,3:kill:node3,5:partition:node2:node1,6:restart:node3,10:heal:node1:node2,11:partition:node3:node2,16:thaw:node1,17:crash-postgres:node3,26:heal:node2:node3,27:crash-postgres:node2,29:crash-postgres:node1,30:crash-postgres:node1,32:crash-postgres:node1,35:freeze:node2,36:freeze:node3,37:crash-postgres:node1,38:crash-postgres:node1',
    },
    {
      // node3 took /leader on a lease last kept alive long before and trusted it for a whole
      // ttl from the acquisition: etcd expired it earlier and node1 was promoted meanwhile.
      seed: 99,
      sync: false,
      why: 'a new leader trusting its lease for longer than etcd keeps it',
      schedule:
        '0:dcs-down,3:dcs-up,4:kill:node2,7:dcs-cut:node3,8:freeze:node1,11:restart:node2,16:partition:node1:node2,19:dcs-cut:node3,22:partition:node2:node3,25:thaw:node1,27:kill:node2,30:dcs-reconnect:node3,33:dcs-down,36:dcs-up,37:dcs-cut:node3',
    },
    {
      // A thawed ex-leader kept reclaiming /leader on a stale view and created the key the
      // moment the new leader's expired: no race, and /sync did not name it.
      seed: 58,
      sync: true,
      why: 'an ex-leader re-creating /leader from a stale view',
      schedule:
        '3:dcs-latency:1000,10:crash-postgres:node2,11:kill:node3,12:restart-postgres:node2:-,15:freeze:node1,25:freeze:node2,27:thaw:node1',
    },
    {
      // A deposed leader that had not noticed yet named itself in /sync again, so only it
      // could take over — from an older timeline: nobody could, for ever.
      seed: 135,
      sync: true,
      why: 'a deposed leader rewriting /sync',
      schedule:
        '0:reinitialize:node3:true,1:partition:node1:node3,4:failover:node3:node1,6:shutdown:node1,7:restart:node1,10:crash-postgres:node3,11:crash-postgres:node2,13:reload:node1,19:dcs-down,21:switchover:node2:node3:-,23:reinitialize:node2:false,25:freeze:node3,26:pause:node1,29:drift:node1:-3264,32:dcs-up,34:thaw:node3,36:crash-postgres:node3,37:freeze:node1,38:reinitialize:node3:true,39:heal:node1:node3,40:crash-postgres:node2,42:kill:node2,43:thaw:node1,45:restart:node2,49:resume:node1,50:restart-postgres:node3:-,51:dcs-down,59:pause:node3',
    },
    {
      // POST /reinitialize on a node cut off from etcd was judged on its stale view (a leader
      // seemed to exist): it wiped the one data directory /sync let take over.
      seed: 129,
      sync: true,
      why: 'a reinitialize accepted on a stale view',
      schedule:
        '0:freeze:node2,4:thaw:node2,7:restart-postgres:node2:-,11:kill:node1,12:partition:node2:node1,18:partition:node3:node1,21:restart:node1,25:dcs-cut:node3,27:failover:node2:node2,29:freeze:node3,31:reinitialize:node2:true,34:crash-postgres:node1,35:kill:node1,37:heal:node1:node2,40:dcs-cut:node2,47:reinitialize:node2:false,48:dcs-latency:350,49:shutdown:node2,51:dcs-reconnect:node2,57:partition:node1:node2,59:partition:node2:node3',
    },
    {
      // A leader frozen mid-promotion lost the lock by its own deadline and never deleted the
      // key; its replica loop kept the lease (and so the key) alive, and after standing back it
      // raced against its own key for ever instead of reclaiming it.
      seed: 1783,
      sync: true,
      why: 'a leader racing against its own key after standing back',
      schedule: '14:dcs-latency:1050,36:dcs-down,54:dcs-up,55:freeze:node2',
    },
    {
      // POST /reload on the synchronous leader rewrote postgresql.conf without
      // synchronous_standby_names: PostgreSQL stopped waiting for the standby /sync names.
      seed: 2661,
      sync: true,
      why: 'a reload that dropped synchronous_standby_names',
      schedule: '9:pause:node2,12:dcs-cut:node1,13:kill:node2,29:reload:node1',
    },
    {
      // A thawed old primary on timeline 1 took the lock back as "running as primary": the new
      // leader's /history was never written (its checkpoint failed) and /sync was not asked.
      seed: 6933,
      sync: true,
      why: 'a stale primary taking the lock back',
      schedule:
        '12:fail:node2:checkpoint,13:freeze:node1,20:slow:node1:stop:20000,27:dcs-cut:node2,29:thaw:node1',
    },
    {
      // A scheduled switchover to a member /sync did not name came due 80 s late, when its
      // frozen leader thawed: it was not dropped as stale, and the candidate took the lock
      // without the synchronous standby's commits.
      seed: 9796,
      sync: true,
      why: 'a stale scheduled switchover to a non-synchronous member',
      schedule:
        '13:switchover:node2:node3:43,14:freeze:node2,17:freeze:node1,21:partition:node3:node1,38:thaw:node1',
    },
    {
      // A new leader cut from etcd right after its acquisition waited a retry_timeout to clear
      // /failover, then trusted its lease by the age measured before that wait: it went on
      // believing it led after etcd had expired its key and another node had taken over.
      // With clients that write to any writable node it broke again (no-split-brain-writes): the
      // lock went while the leader was clearing /failover, cut from etcd, and its primary stayed
      // writable until that write gave up, 4 s into node2's promotion. clearingFailover now
      // demotes on a lost lock.
      seed: 40971,
      sync: false,
      why: 'a lease age measured before clearing /failover',
      schedule: '5:dcs-latency:1550,35:switchover:node1:node3:-,37:dcs-cut:node3,41:dcs-latency:0',
    },
    {
      // A switchover scheduled 219 days ahead ran at once: Node fires a timer longer than
      // 2^31 − 1 ms after 1 ms (seen on a real cluster; the simulated clock now does the same).
      seed: 35,
      sync: false,
      why: 'a switchover scheduled past Node’s timer limit',
      schedule: '5:switchover:node1:node3:18921600',
    },
    {
      // The same for a scheduled restart, 66 days ahead.
      seed: 42,
      sync: false,
      why: 'a restart scheduled past Node’s timer limit',
      schedule: '47:restart-postgres:node2:5702400',
    },
    {
      // PATCH /config of ttl (on a calm cluster): the new lease was granted behind the election's
      // back and not kept alive on its schedule; the next refresh found it expired and the leader
      // demoted itself (a new timeline for nothing), also seen on a real cluster.
      seed: 121,
      sync: false,
      why: 'a PATCH of ttl demoting the leader',
      schedule: '2:patch-config:node1:24:5:1,3:patch-config:node3:13:3:5',
    },
    {
      // A live leader refusing connections (REJECT) and cut from etcd looked dead to the
      // replicas, which revoked its lease and promoted another while it still believed it led
      // and accepted writes: two writable primaries. Nobody skips a leader's deadline now.
      seed: 40,
      sync: false,
      why: 'a live leader’s lease revoked on refused ports',
      schedule: '23:reject:node1:-,23:dcs-cut:node1',
    },
    {
      seed: 140,
      sync: false,
      why: 'the same, on a leader elected after a kill',
      schedule: '19:kill:node1,49:reject:node2:-,49:dcs-cut:node2',
    },
    {
      // An old primary demoted while no leader was in sight started as a replica of nobody and
      // forgot it might have diverged: when a leader came back it followed it on a forked
      // timeline and never streamed again (the cluster never healed). Now it stops and rewinds.
      seed: 10,
      sync: false,
      why: 'an old primary following a new leader without a rewind',
      schedule: '5:kill:node1,8:shutdown:node2,11:dcs-cut:node3',
      checkHeal: true,
    },
    {
      // The leader's agent killed, etcd down, the agent restarted: it waited for etcd without
      // looking at PostgreSQL, and the primary stayed writable with no lock for as long as etcd
      // stayed away (found by writable-only-while-leading). Now it is stopped within a ttl.
      seed: 1316,
      sync: false,
      why: 'a primary kept writable by an agent waiting for etcd',
      schedule: '30:kill-agent:node1,31:dcs-down,35:restart:node1',
    },
    {
      // Synchronous mode: the leader froze, its lease expired, another leader acknowledged
      // commits, and a PATCH of ttl came meanwhile; thawed, the old leader's refresh for the new
      // ttl granted a fresh lease and re-created the key on it without first proving its old
      // lease alive — and promoted over the commits. The refresh always keeps the old lease alive first.
      seed: 2564,
      sync: true,
      why: 'a refresh for a new ttl re-creating the key of a long-expired lease',
      schedule:
        '7:patch-config:node1:36:8:8,8:partition:node1:node2,13:switchover:node2:node3:-,15:freeze:node3,18:patch-config:node1:17:4:6,31:freeze:node1',
    },
    {
      // The old leader, cut from etcd, lost the lock and demoted; reconnected, its view stayed
      // stale (a read sent during the cut ran out its timeout) and a switchover named it before
      // it had rejoined: it took the lock as the requested candidate and promoted its timeline 1
      // — a second timeline 2, the leader's writes since the fork gone, the cluster never healed.
      // Now a member behind the cluster's timeline is no candidate (for itself, the leader's
      // check and the others alike).
      seed: 369,
      sync: false,
      why: 'a switchover candidate promoted from an older timeline',
      schedule: '12:dcs-cut:node1,33:dcs-reconnect:node1,35:switchover:node3:node1:-',
      checkHeal: true,
    },
    {
      // Synchronous mode: a replica cut from etcd for 215 s came back while the watch's re-read
      // sent during the cut still ran out its timeout, and raced on its last view — a free lock
      // and a /sync that named it, both long gone: it took the lock and promoted without the
      // commits the synchronous standby of the real /sync had acknowledged. The election no
      // longer races on a view etcd has failed since (Patroni races only on a cluster it just read).
      seed: 109,
      sync: true,
      why: 'a race on a view gone stale during an etcd cut',
      schedule:
        '2:freeze:node2,4:drift:node3:-873,5:freeze:node1,11:dcs-flaky:node3:50:2400,13:thaw:node2,15:kill:node2,16:dcs-cut:node3,20:dcs-flaky:node3:0:0,23:thaw:node1,24:partition:node2:node3,28:dcs-latency:1350,31:restart:node2,37:dcs-flaky:node2:80:0,53:heal:node2:node3,55:dcs-cut:node1,57:reject:node2:-,57:dcs-cut:node2,59:dcs-reconnect:node3',
    },
    {
      // Failsafe mode: the last leader, alone after etcd came back, wrote /failsafe naming only
      // itself, and was killed; once everyone was back it was the one member allowed to race and
      // the one behind, so it yielded to those ahead, who were not allowed: no leader for good.
      // Now a member left out of /failsafe races once every member named there answered the
      // probe as a running replica (none can be a primary that failsafe mode keeps).
      seed: 156,
      sync: false,
      failsafe: true,
      why: 'a /failsafe naming only a member that fell behind: no leader ever',
      schedule:
        '7:kill:node3,10:dcs-down,15:restart:node3,26:shutdown:node2,45:kill:node1,46:dcs-up,52:kill:node3',
    },
    {
      // The leader's restart whose fast stop failed (PostgreSQL still running, writable) went on
      // as after a crash: it released the lock while its primary still took writes. Now a failed
      // stop ends the restart where it was, and boot looks at PostgreSQL as it is.
      seed: 11,
      sync: true,
      why: 'a failed restart releasing the lock of a writable primary',
      schedule: '5:fail:node2:stop,15:switchover:node3:node2:-,19:restart-postgres:node2:-',
    },
    {
      // An old primary restarted while there was no leader started as a replica with no upstream;
      // a leader appeared while it was starting, and the start's end counted that as "started
      // following a leader": the divergence check was skipped and it stayed on its fork for good.
      seed: 199,
      sync: false,
      why: 'an ex-primary taken for a settled replica because a leader appeared while it started',
      checkTimeline: false,
      schedule: '6:kill-agent:node1,15:restart:node1,38:kill:node2,40:freeze:node3,50:kill:node1',
    },
    {
      // Following the new leader failed; the node kept the new leader's name as what it follows,
      // so nothing ever tried again and its PostgreSQL went on following nobody.
      seed: 80,
      sync: false,
      why: 'a failed follow remembered as done',
      schedule: '2:pause:node3,5:crash-postgres:node2,46:crash-postgres:node1,48:fail:node2:follow',
    },
    {
      // The simulated etcd expired leases while it had no quorum; a real one does not, and gives
      // every lease a full ttl when the quorum returns. The model's early expiry let a stale ex-
      // primary win the race against members whose keys had vanished only in the model.
      seed: 148,
      sync: false,
      why: 'leases expiring during an etcd outage (the model, not etcd)',
      checkTimeline: false,
      schedule: '16:dcs-cut:node1,48:dcs-down',
    },
    {
      // A restarted ex-primary on timeline 1 won a race no one else could join (their keys were
      // gone) while /history said timeline 2 existed: its promotion made a second timeline 2,
      // and the replica of the first could never stream from it. check_timeline is on by default.
      seed: 157,
      sync: false,
      why: 'a promotion from an older timeline forking a second timeline of the same number',
      schedule: '6:shutdown:node1,46:kill-agent:node2,47:dcs-cut:node3,52:restart:node1',
    },
    {
      seed: 70,
      sync: false,
      why: 'a switchover won by a member on an older timeline that saw nobody',
      schedule: '9:dcs-down,12:partition:node2:node3,29:reject:node1:node2,36:dcs-up,47:switchover:node3:-:-',
    },
    {
      // With check_timeline, the ex-primary's WAL past the fork on timeline 1 counted as "ahead"
      // of the one member on timeline 2: each refused the other and nobody ever led.
      seed: 154,
      sync: false,
      why: 'WAL positions compared across timelines',
      schedule: '1:kill:node2,3:kill:node3,28:kill:node1,43:restart:node3,46:kill:node3',
    },
    {
      // An operator's failover to a member behind the cluster's timeline forked a second
      // timeline 2 (see seed 157): with check_timeline the API refuses it up front.
      seed: 185,
      sync: false,
      ttl: 10,
      why: 'a failover to a candidate on an older timeline',
      schedule: '40:shutdown:node1,43:freeze:node3,50:kill:node2,54:restart:node1,57:failover:node1:node1',
    },
    {
      // The leader's wall clock stepped back two minutes in the middle of a lease refresh: the
      // refresh seemed to take −117 s, and the lease was trusted 145 s — far past etcd's 30.
      // Durations are measured on the monotonic clock.
      seed: 1,
      sync: false,
      why: 'a lease trusted by the wall clock across a step back',
      schedule: '2:dcs-latency:3000,7:clock-step:node1:-120000:2500,9:dcs-cut:node1',
    },
    {
      // A restart scheduled 21 s ahead; the node's wall clock stepped back 175 s meanwhile: the
      // timer (monotonic) ran out while the wall clock was still three minutes short of the time.
      seed: 214,
      sync: false,
      why: 'a scheduled restart run early by the wall clock after a step back',
      schedule: '19:restart-postgres:node2:21,21:clock-step:node2:-175000:156',
    },
    {
      // ttl patched to 10; the leader's agent killed and restarted cut from etcd: it waited a ttl
      // of the YAML (30) from its start to fence its primary, 26 s after another node had been
      // promoted. A restarted agent now fences unless etcd answers within retry_timeout.
      seed: 1,
      sync: false,
      why: 'a restarted agent fencing its primary a ttl after its start',
      schedule: '2:patch-config:node1:10:2:4,5:kill-agent:node1,5:dcs-cut:node1,6:restart:node1',
    },
    {
      // Frozen in the middle of its promotion, thawed long after its lease ran out: it finished
      // the promotion (CHECKPOINT, /history over a slow etcd) before it looked at the lock.
      seed: 13,
      sync: false,
      ttl: 10,
      why: 'a promotion finished after the lock was lost',
      schedule:
        '1:kill:node1,2:kill:node2,11:restart:node1,13:kill:node3,15:freeze:node1,16:restart:node3,22:dcs-latency:2000,23:thaw:node1',
    },
    {
      // The immediate stop of a primary that lost the lock failed once: it waited a crash
      // recovery's pause, writable, while another node was promoted. It tries again at once.
      seed: 275,
      sync: false,
      ttl: 10,
      why: 'a failed demotion left writable for a crash pause',
      schedule: '36:switchover:node1:node3:-,40:fail:node3:stop,47:dcs-cut:node3',
    },
    {
      // Synchronous mode: the switchover's source stood back for its synchronous standby, which
      // stood back because the source was ahead: nobody led again. The last synchronous leader's
      // extra WAL was never acknowledged to a client, and no longer counts (Patroni's rule).
      seed: 299,
      sync: true,
      why: 'the synchronous standby deferring to the switchover source, and back',
      schedule: '5:dcs-latency:1800,24:switchover:node2:-:-,25:shutdown:node2,28:restart:node2',
    },
    {
      // node2 took the lock after an etcd outage and began a 23 s promotion; cut from etcd
      // meanwhile, it lost the lock on its deadline while its CHECKPOINT and /history write still
      // ran, and stayed writable until they gave up: node1 was promoted and a client that writes to
      // any writable node had writes acknowledged by both (no-split-brain-writes; the old
      // invariants saw nothing, node2 no longer believed it led). afterPromotion now demotes on a
      // lost lock as `primary` does.
      seed: 89,
      sync: false,
      why: 'a primary kept writable after losing the lock during its post-promotion writes',
      schedule: '16:kill:node1,33:slow:node2:promote:23000,37:dcs-down,45:dcs-up,48:dcs-cut:node2',
    },
    {
      // Five nodes: node1's post-promotion CHECKPOINT failed, so /history was never written; node5,
      // streaming from the orphan old primary past node1's fork point, could never learn that it
      // diverged. /history is written whatever the CHECKPOINT does, and retried every loop.
      seed: 148,
      sync: false,
      nodes: 5,
      why: 'a /history never written after a failed post-promotion CHECKPOINT',
      schedule: '38:failover:node1:node4,45:fail:node1:checkpoint,55:kill-agent:node4,56:kill-agent:node5',
    },
  ];
  for (const r of regressions) {
    it(`seed ${r.seed} (${r.why}) holds every invariant`, async () => {
      const steps = r.seed === 6 ? STEPS : 60;
      const result = await runSchedule({
        seed: r.seed,
        nodes: r.nodes ?? NODES,
        steps,
        synchronousMode: r.sync,
        failsafeMode: r.failsafe ?? false,
        ttl: r.ttl ?? 30,
        checkTimeline: r.checkTimeline,
        checkHeal: r.checkHeal ?? true,
        schedule: parseSchedule(
          r.schedule,
          Array.from({ length: r.nodes ?? NODES }, (_, i) => `node${i + 1}`),
        ),
      });
      expect(result.violations).toEqual([]);
      expect(result.stats.healMs).not.toBeNull();
    });
  }

  it('schedules round-trip through their text form, and bad text is refused with the entry named', () => {
    for (const seed of [1, 2, 3, 135]) {
      const schedule = generateSchedule(seed, NODES, 60);
      expect(parseSchedule(formatSchedule(schedule), NAMES)).toEqual(schedule);
    }
    expect(() => parseSchedule('3:explode:node1', NAMES)).toThrow(
      'schedule entry "3:explode:node1": unknown action "explode"',
    );
    expect(() => parseSchedule('3:kill:node9', NAMES)).toThrow(
      'node "node9" is not one of node1, node2, node3',
    );
    expect(() => parseSchedule('3:kill', NAMES)).toThrow('kill takes 1 field(s): node');
    expect(() => parseSchedule('5:dcs-up,3:dcs-down', NAMES)).toThrow('in step order');
    expect(() => parseSchedule('1:drift:node1:900000', NAMES)).toThrow('ppm must be within ±5000');
  });

  it('a given schedule is played instead of the generated one, and the replay command carries it', async () => {
    const schedule = parseSchedule('2:kill:node1,4:restart:node1,6:switchover:node2:-:-', NAMES);
    const r = await runSchedule({ seed: 3, nodes: NODES, steps: 10, schedule });
    expect(r.ok, formatFailure(r)).toBe(true);
    expect(r.schedule).toEqual(schedule);
    expect(r.stats.requests).toBe(1);
    expect(Object.keys(r.stats.answers)).toEqual([expect.stringMatching(/^switchover \d{3}$/)]);
    expect(r.replay).toBe(
      "pgwarden sim --seed 3 --nodes 3 --steps 10 --schedule '2:kill:node1,4:restart:node1,6:switchover:node2:-:-'",
    );
  });
});
