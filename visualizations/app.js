/*
 * pgwarden's statechart visualizer, in the browser. No build step and no network: this file,
 * the page and the stylesheet ship in the package, with msgpackr's browser build.
 *
 * Two modes, one drawing:
 *  - live: one WebSocket to the agent that served the page, which relays every member's journal
 *    stream (msgpackr frames): the charts highlight each member's active states, the lanes show
 *    each member's states, last transitions with the guards that chose them, the leader and its
 *    lease deadline; a member whose stream closed is shown as gone.
 *  - journal (`pgwarden viz --journal FILES`): the recorded transitions of every node; a time
 *    scrubber moves every lane to the states at that time.
 * Charts come laid out from the server (ELK), drawn here as SVG.
 */
'use strict';

const COLORS = ['#2563eb', '#ea580c', '#16a34a', '#9333ea', '#db2777', '#0891b2', '#ca8a04', '#4b5563'];
/** The machines a lane lists, with the short names it uses. */
const LANE_ACTORS = [
  ['node', 'node'],
  ['node.election', 'election'],
  ['leaderDuties', 'duties'],
  ['serverParameters', 'parameters'],
  ['node.restartScheduler', 'restart'],
  ['node.switchoverScheduler', 'switchover'],
];
/** Machines that move at every status write: left out of a lane's recent transitions. */
const ROUTINE = new Set(['leaderDuties', 'serverParameters']);
const RECENT = 7;

const ui = {
  session: null,
  charts: [],
  tab: 'node',
  zoom: null,
  /** name → { color, actors: Map(actor → transition), recent: [], status, gone } */
  members: new Map(),
  journal: null,
  playing: null,
  drawPending: false,
};

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const clockText = (t) => new Date(t).toISOString().replace('T', ' ').slice(0, 23);

async function getJSON(path) {
  const res = await fetch(path, { credentials: 'same-origin' });
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return res.json();
}

function member(name) {
  let m = ui.members.get(name);
  if (!m) {
    m = { name, color: COLORS[0], actors: new Map(), recent: [], status: null, gone: false };
    ui.members.set(name, m);
    // Colours follow the names' order, whatever order the members' streams arrive in.
    [...ui.members.keys()].sort().forEach((n, i) => {
      ui.members.get(n).color = COLORS[i % COLORS.length];
    });
  }
  return m;
}

/** A transition seen (live) or passed (journal): the member's actor is now there. */
function apply(tr) {
  const m = member(tr.member);
  // A finished actor (an answered REST request) leaves the charts; its last move stays in the lane.
  if (tr.finished) m.actors.delete(tr.actor);
  else m.actors.set(tr.actor, tr);
  if (!ROUTINE.has(tr.actor)) {
    m.recent.push(tr);
    if (m.recent.length > RECENT) m.recent.shift();
  }
}

// ----- drawing --------------------------------------------------------------------------------

function renderTabs() {
  const nav = $('tabs');
  nav.innerHTML = '';
  for (const c of ui.charts) {
    const b = document.createElement('button');
    b.textContent = c.title;
    b.dataset.chart = c.id;
    b.className = c.id === ui.tab ? 'on' : '';
    b.onclick = () => {
      ui.tab = c.id;
      ui.zoom = null;
      renderTabs();
      draw();
    };
    nav.appendChild(b);
  }
}

/** Which members are in which state of the chart shown (an actor of its machine, not finished). */
function occupancy(chart) {
  const at = new Map();
  const taken = [];
  for (const m of ui.members.values()) {
    for (const tr of m.actors.values()) {
      if (tr.chart !== chart.id) continue;
      for (const id of tr.active) {
        if (!at.has(id)) at.set(id, []);
        at.get(id).push(m);
      }
      taken.push({ tr, m });
    }
  }
  return { at, taken };
}

function edgeTaken(edge, taken) {
  for (const { tr, m } of taken) {
    if (!tr.from) continue;
    const from = tr.from.split(' | ')[0];
    const to = tr.to.split(' | ')[0];
    if ((from === edge.from || from.startsWith(`${edge.from}.`)) && (to === edge.to || to.startsWith(`${edge.to}.`)))
      return m;
  }
  return null;
}

function drawChart(chart) {
  const { at, taken } = occupancy(chart);
  const parts = [];
  const walk = (s) => {
    const here = at.get(s.id) ?? [];
    const leaf = s.children.length === 0;
    const cls = `state ${leaf ? 'atomic' : 'compound'} ${s.kind} ${here.length ? 'active' : ''}`;
    parts.push(`<g class="${cls}" data-state="${esc(s.id)}"><title>${esc(s.id)}${s.description ? `\n\n${esc(s.description)}` : ''}</title>`);
    parts.push(`<rect x="${s.x}" y="${s.y}" width="${s.width}" height="${s.height}"></rect>`);
    if (leaf) parts.push(`<text x="${s.x + s.width / 2}" y="${s.y + s.height / 2 + 4}" text-anchor="middle">${esc(s.label)}</text>`);
    else parts.push(`<text x="${s.x + 8}" y="${s.y + 16}">${esc(s.label)}</text>`);
    // One badge per member in this state (the deepest state only: its ancestors show the tint).
    const deepest = here.filter((m) => leaf || !s.children.some((c) => (at.get(c.id) ?? []).includes(m)));
    let bx = s.x + s.width - 4;
    for (const m of deepest) {
      const w = m.name.length * 6.2 + 10;
      bx -= w;
      parts.push(`<g class="badge" data-member="${esc(m.name)}"><rect x="${bx}" y="${s.y - 8}" width="${w}" height="15" style="fill:${m.color};stroke:none"></rect><text x="${bx + 5}" y="${s.y + 3}">${esc(m.name)}</text></g>`);
      bx -= 3;
    }
    parts.push('</g>');
    for (const c of s.children) walk(c);
  };
  for (const s of chart.states) walk(s);
  const edges = chart.edges.map((e) => {
    const by = edgeTaken(e, taken);
    const d = e.points.map((p, i) => `${i ? 'L' : 'M'}${p.x},${p.y}`).join(' ');
    const style = by ? ` style="stroke:${by.color}"` : '';
    return `<path class="edge${by ? ' taken' : ''}" d="${d}"${style}><title>${esc(e.from)} → ${esc(e.to)}\n${esc(e.labels.join('\n'))}</title></path>`;
  });
  // Fit the pane, but never below what can be read: a large chart scrolls instead.
  const scale = ui.zoom ?? Math.max(0.75, Math.min(1, ($('chart').clientWidth - 16) / chart.width));
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="-10 -14 ${chart.width + 20} ${chart.height + 24}" width="${(chart.width + 20) * scale}" height="${(chart.height + 24) * scale}">
    <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#9aa1ad"/></marker></defs>
    ${parts.join('')}${edges.join('')}</svg>`;
}

function laneHtml(m) {
  const st = m.status;
  const isLeader = st ? st.isLeader : m.actors.get('node.election')?.to.startsWith('leader');
  const role = st?.role ?? (isLeader ? 'leader' : m.actors.has('node') ? 'replica' : '');
  let lease = '';
  if (st?.leaseDeadline) {
    const left = (st.leaseDeadline - Date.now()) / 1000;
    lease = `<span class="lease" data-lease="${st.leaseDeadline}">lease ${left > 0 ? `${left.toFixed(1)} s left` : 'expired'}</span>`;
  }
  const rows = LANE_ACTORS.filter(([a]) => m.actors.has(a))
    .map(([a, short]) => `<tr><td class="m">${short}</td><td class="s" data-actor="${a}">${esc(m.actors.get(a).to)}</td></tr>`)
    .join('');
  const events = [...m.recent]
    .reverse()
    .map((tr, i) => {
      const yes = (tr.guards ?? []).filter(([, r]) => r).map(([g]) => g);
      return `<div class="ev" data-member="${esc(m.name)}" data-i="${m.recent.length - 1 - i}"><span class="at">${clockText(tr.t).slice(11)}</span> ${esc(tr.actor)}: ${esc(tr.cause.label)} → <b>${esc(tr.to)}</b>${yes.length ? ` <span class="ok">[${esc(yes.join(', '))}]</span>` : ''}</div>`;
    })
    .join('');
  return `<div class="lane${m.gone ? ' gone' : ''}" style="--c:${m.color}" data-member="${esc(m.name)}" data-role="${esc(role)}" data-leader="${isLeader ? 'true' : 'false'}" data-gone="${m.gone}">
    <h3>${esc(m.name)} <span class="role${isLeader ? ' leader' : ''}">${isLeader ? '★ leader' : esc(role)}</span>${m.gone ? ' <span class="role">gone</span>' : ''}${lease}</h3>
    <table>${rows}</table>
    <div class="events">${events || '<i>no transition yet</i>'}</div></div>`;
}

function draw() {
  if (ui.drawPending) return;
  ui.drawPending = true;
  requestAnimationFrame(() => {
    ui.drawPending = false;
    const chart = ui.charts.find((c) => c.id === ui.tab) ?? ui.charts[0];
    if (chart) {
      $('chart').innerHTML = drawChart(chart);
      followActive();
    }
    $('chart-note').textContent = chart?.description ? chart.description.slice(0, 160) : '';
    const lanes = [...ui.members.values()].sort((a, b) => a.name.localeCompare(b.name));
    $('lanes').innerHTML = lanes.map(laneHtml).join('');
    const leaders = lanes.filter((m) => (m.status ? m.status.isLeader : m.actors.get('node.election')?.to.startsWith('leader')) && !m.gone);
    $('leader').textContent = leaders.length ? `leader: ${leaders.map((m) => m.name).join(', ')}` : 'no leader';
  });
}

/** Once per chart shown: scroll to the first member's active state, so it is in view. */
function followActive() {
  if (ui.scrolledFor === ui.tab) return;
  const badge = $('chart').querySelector('.badge');
  if (!badge) return;
  ui.scrolledFor = ui.tab;
  const pane = $('chart').getBoundingClientRect();
  const at = badge.getBoundingClientRect();
  $('chart').scrollLeft += at.left - pane.left - pane.width / 3;
  $('chart').scrollTop += at.top - pane.top - pane.height / 3;
}

function showDetails(tr) {
  const guards = (tr.guards ?? []).map(([g, r]) => `<li class="${r ? 'ok' : 'no'}">${r ? '✓' : '✗'} ${esc(g)}</li>`).join('');
  $('details-body').innerHTML = `<h3>${esc(tr.member)} · ${esc(tr.actor)}</h3>
    <p>${clockText(tr.t)} UTC<br><b>${esc(tr.from ?? '(start)')}</b> → <b>${esc(tr.to)}</b></p>
    <p>event: <code>${esc(tr.cause.type)}</code></p>
    <p>guards asked, in order:</p><ul class="guards">${guards || '<li>none</li>'}</ul>
    <pre>${esc(JSON.stringify(tr.cause.event ?? null, null, 2).slice(0, 20000))}</pre>`;
  $('details').hidden = false;
}

// ----- journal mode ----------------------------------------------------------------------------

function startJournal(data) {
  ui.journal = { all: data.transitions, t0: data.transitions[0]?.t ?? 0, t1: data.transitions.at(-1)?.t ?? 0 };
  for (const name of data.members) member(name);
  $('mode').textContent = `journal · ${data.files.length} file(s)`;
  $('scrubber').hidden = false;
  const range = $('time');
  range.max = String(ui.journal.t1 - ui.journal.t0);
  range.oninput = () => seek(ui.journal.t0 + Number(range.value));
  $('next').onclick = () => step(1);
  $('prev').onclick = () => step(-1);
  $('play').onclick = () => {
    if (ui.playing) {
      clearInterval(ui.playing);
      ui.playing = null;
      $('play').textContent = '▶';
      return;
    }
    $('play').textContent = '❚❚';
    ui.playing = setInterval(() => step(1) || $('play').click(), 400);
  };
  seek(ui.journal.t1);
}

/** Every lane to the states at time t: the transitions up to t, replayed in order. */
function seek(t) {
  const j = ui.journal;
  j.now = t;
  for (const m of ui.members.values()) {
    m.actors.clear();
    m.recent = [];
  }
  for (const tr of j.all) {
    if (tr.t > t) break;
    apply(tr);
  }
  $('time').value = String(t - j.t0);
  $('clock').textContent = `${clockText(t)} UTC`;
  draw();
}

/** The next (or previous) time at which something moved. */
function step(dir) {
  const j = ui.journal;
  const times = j.all.map((tr) => tr.t);
  const next = dir > 0 ? times.find((x) => x > j.now) : [...times].reverse().find((x) => x < j.now);
  if (next === undefined) return false;
  seek(next);
  return true;
}

// ----- live mode -------------------------------------------------------------------------------

function startLive() {
  $('mode').textContent = 'live';
  connect();
  setInterval(refreshPlan, 3000);
  refreshPlan();
  // Lease countdowns tick without new frames.
  setInterval(() => {
    for (const el of document.querySelectorAll('[data-lease]')) {
      const left = (Number(el.dataset.lease) - Date.now()) / 1000;
      el.textContent = `lease ${left > 0 ? `${left.toFixed(1)} s left` : 'expired'}`;
    }
  }, 250);
}

async function connect() {
  let token;
  try {
    token = (await getJSON('token')).token;
  } catch {
    setTimeout(connect, 2000);
    return;
  }
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${proto}://${location.host}/ui/stream?token=${encodeURIComponent(token)}`);
  ws.binaryType = 'arraybuffer';
  ws.onmessage = (msg) => {
    const frame = msgpackr.unpack(new Uint8Array(msg.data));
    onFrame(frame);
    draw();
  };
  ws.onclose = () => {
    for (const m of ui.members.values()) m.gone = true;
    draw();
    setTimeout(connect, 2000);
  };
}

function onFrame(f) {
  if (f.type === 'transition') apply(f.transition);
  else if (f.type === 'snapshot') {
    const m = member(f.member);
    m.actors.clear();
    m.recent = [];
    m.gone = false;
    for (const tr of f.transitions) apply(tr);
  } else if (f.type === 'status') {
    const m = member(f.member);
    m.status = f.status;
    m.gone = false;
  } else if (f.type === 'gone') member(f.member).gone = true;
}

async function refreshPlan() {
  try {
    const plan = await getJSON('/failover-plan');
    const who = plan.candidates.length ? plan.candidates.join(' or ') : 'nobody';
    const loss = plan.max_data_loss_bytes === null ? '' : ` · up to ${plan.max_data_loss_bytes} B lost`;
    $('plan').textContent = plan.leader ? `if ${plan.leader} died now: ${who}${loss}` : '';
    $('plan').title = plan.members.map((m) => `${m.name}: ${m.reason}`).join('\n');
  } catch {
    $('plan').textContent = '';
  }
}

// ----- start -----------------------------------------------------------------------------------

$('lanes').addEventListener('click', (e) => {
  const ev = e.target.closest('.ev');
  if (!ev) return;
  const m = ui.members.get(ev.dataset.member);
  const tr = m?.recent[Number(ev.dataset.i)];
  if (tr) showDetails(tr);
});
$('chart').addEventListener('click', (e) => {
  const g = e.target.closest('.state');
  if (!g) return;
  const chart = ui.charts.find((c) => c.id === ui.tab);
  const find = (list) => {
    for (const s of list) {
      if (s.id === g.dataset.state) return s;
      const inner = find(s.children);
      if (inner) return inner;
    }
    return null;
  };
  const s = chart && find(chart.states);
  if (!s) return;
  $('details-body').innerHTML = `<h3>${esc(chart.title)}: ${esc(s.id)}</h3><p>${esc(s.description ?? 'no description')}</p>`;
  $('details').hidden = false;
});
$('details-close').onclick = () => {
  $('details').hidden = true;
};
$('zoom-in').onclick = () => {
  ui.zoom = (ui.zoom ?? 1) * 1.25;
  draw();
};
$('zoom-out').onclick = () => {
  ui.zoom = (ui.zoom ?? 1) / 1.25;
  draw();
};
$('zoom-fit').onclick = () => {
  ui.zoom = null;
  draw();
};

(async function main() {
  ui.session = await getJSON('session.json');
  $('scope').textContent = ui.session.scope ? `cluster ${ui.session.scope}` : '';
  ui.charts = await getJSON('charts.json');
  renderTabs();
  if (ui.session.mode === 'journal') startJournal(await getJSON('journal.json'));
  else startLive();
  document.body.dataset.ready = 'true';
})();
