import { describe, expect, it } from 'vitest';
import type { EventPayload, Message } from '../api/types';
import { RealtimeConnection, type ConnectionStatus, type Scheduler, type SocketLike } from './connection';

/** A WebSocket stand-in driven by the test: it records what the client sends. */
class FakeSocket implements SocketLike {
  readyState = 0;
  sent: unknown[] = [];
  closedWith: number | null = null;
  onopen: SocketLike['onopen'] = null;
  onmessage: SocketLike['onmessage'] = null;
  onclose: SocketLike['onclose'] = null;
  onerror: SocketLike['onerror'] = null;
  constructor(readonly url: string) {}
  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000): void {
    this.closedWith = code;
    this.readyState = 3;
  }
  // Test controls:
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  receive(frame: unknown): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  drop(code = 1006): void {
    this.readyState = 3;
    this.onclose?.({ code });
  }
}

/** Timers under the test's control: nothing runs until `advance`. */
class FakeClock implements Scheduler {
  now = 0;
  private timers = new Map<number, { at: number; callback: () => void }>();
  private next = 1;
  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.next++;
    this.timers.set(id, { at: this.now + ms, callback });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, timer]) => timer.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.now = due[1].at;
      due[1].callback();
    }
    this.now = until;
  }
}

const user = { id: 1, email: 'a@example.com', handle: 'a', name: 'A', role: 'member', active: true, created_at: 0, deactivated_at: null } as const;

function created(id: number): EventPayload {
  return { kind: 'message_created', message: { id } as Message };
}

function setup() {
  const sockets: FakeSocket[] = [];
  const clock = new FakeClock();
  const events: [number, number][] = [];
  const hellos: { position: number; resumed: boolean }[] = [];
  const statuses: ConnectionStatus[] = [];
  const restrictions: string[] = [];
  const resets: number[] = [];
  const connection = new RealtimeConnection({
    url: (since) => `/ws?token=t${since === undefined ? '' : `&since=${since}`}`,
    createSocket: (url) => {
      const socket = new FakeSocket(url);
      sockets.push(socket);
      return socket;
    },
    scheduler: clock,
    random: () => 1,
    minDelayMs: 500,
    maxDelayMs: 8000,
    handlers: {
      onHello: (_user, position, resumed) => hellos.push({ position, resumed }),
      onEvent: (event, position) => events.push([position, event.kind === 'message_created' ? event.message.id : -1]),
      onStatus: (status) => statuses.push(status),
      onRestricted: (restriction) => restrictions.push(restriction),
      onReset: (position) => resets.push(position),
    },
  });
  return { connection, sockets, clock, events, hellos, statuses, restrictions, resets };
}

describe('RealtimeConnection', () => {
  it('connects without since first, then resumes from the last processed position', () => {
    const { connection, sockets, clock, events, hellos } = setup();
    connection.start();
    expect(sockets[0]!.url).toBe('/ws?token=t');
    sockets[0]!.open();
    sockets[0]!.receive({ type: 'hello', user, position: 10, heartbeat_ms: 1000 });
    sockets[0]!.receive({ type: 'event', position: 11, event: created(100) });
    sockets[0]!.receive({ type: 'event', position: 12, event: created(101) });
    expect(hellos).toEqual([{ position: 10, resumed: false }]);

    sockets[0]!.drop();
    expect(connection.status).toBe('offline');
    clock.advance(500);
    expect(sockets).toHaveLength(2);
    expect(sockets[1]!.url).toBe('/ws?token=t&since=12');
    sockets[1]!.open();
    sockets[1]!.receive({ type: 'hello', user, position: 14, heartbeat_ms: 1000 });
    // The backlog repeats an event already seen; it must be dropped.
    sockets[1]!.receive({ type: 'event', position: 12, event: created(101) });
    sockets[1]!.receive({ type: 'event', position: 13, event: created(102) });
    sockets[1]!.receive({ type: 'event', position: 14, event: created(103) });
    sockets[1]!.receive({ type: 'caught_up', position: 14 });
    expect(hellos[1]).toEqual({ position: 14, resumed: true });
    expect(events).toEqual([
      [11, 100],
      [12, 101],
      [13, 102],
      [14, 103],
    ]);
    expect(connection.position).toBe(14);
  });

  it('follows a reset to an earlier position so later events are not taken for old ones', () => {
    const { connection, sockets, clock, events, resets } = setup();
    connection.start();
    sockets[0]!.open();
    sockets[0]!.receive({ type: 'hello', user, position: 40, heartbeat_ms: 1000 });
    sockets[0]!.receive({ type: 'caught_up', position: 40 });
    sockets[0]!.drop();
    clock.advance(500);
    expect(sockets[1]!.url).toBe('/ws?token=t&since=40');
    sockets[1]!.open();
    // The server was restored to an older state: its journal ends at 7.
    sockets[1]!.receive({ type: 'hello', user, position: 7, heartbeat_ms: 1000 });
    sockets[1]!.receive({ type: 'reset', position: 7, requested_since: 40 });
    sockets[1]!.receive({ type: 'caught_up', position: 7 });
    sockets[1]!.receive({ type: 'event', position: 8, event: created(200) });
    expect(resets).toEqual([7]);
    expect(events).toEqual([[8, 200]]);
    expect(connection.position).toBe(8);
  });

  it('backs off exponentially up to the cap and resets after a successful hello', () => {
    const { connection, sockets, clock } = setup();
    connection.start(5);
    const delays: number[] = [];
    for (let attempt = 0; attempt < 6; attempt += 1) {
      const before = sockets.length;
      sockets[before - 1]!.drop();
      let waited = 0;
      while (sockets.length === before) {
        clock.advance(100);
        waited += 100;
      }
      delays.push(waited);
    }
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 8000]);
    const last = sockets[sockets.length - 1]!;
    last.open();
    last.receive({ type: 'hello', user, position: 5 });
    expect(connection.attempts).toBe(0);
    last.drop();
    clock.advance(500);
    expect(sockets[sockets.length - 1]!.url).toBe('/ws?token=t&since=5');
  });

  it('answers pings with pongs', () => {
    const { connection, sockets } = setup();
    connection.start();
    sockets[0]!.open();
    sockets[0]!.receive({ type: 'hello', user, position: 1 });
    sockets[0]!.receive({ type: 'ping' });
    expect(sockets[0]!.sent).toEqual([{ type: 'pong' }]);
  });

  it('drops a silent socket after missing heartbeats and reconnects', () => {
    const { connection, sockets, clock } = setup();
    connection.start();
    sockets[0]!.open();
    sockets[0]!.receive({ type: 'hello', user, position: 3, heartbeat_ms: 1000 });
    clock.advance(6_999);
    expect(sockets).toHaveLength(1);
    clock.advance(1);
    expect(sockets[0]!.closedWith).toBe(4000);
    expect(connection.status).toBe('offline');
    clock.advance(500);
    expect(sockets).toHaveLength(2);
    expect(sockets[1]!.url).toBe('/ws?token=t&since=3');
  });

  it('stops for good when the session is revoked', () => {
    const { connection, sockets, clock, statuses } = setup();
    connection.start();
    sockets[0]!.open();
    sockets[0]!.receive({ type: 'hello', user, position: 1 });
    sockets[0]!.drop(4001);
    clock.advance(60_000);
    expect(sockets).toHaveLength(1);
    expect(statuses[statuses.length - 1]).toBe('revoked');
  });

  it.each([
    [4031, 'policy'],
    [4032, 'mfa_enrolment'],
  ])('stops without retrying when closed with %i until the restriction is lifted', (code, restriction) => {
    const { connection, sockets, clock, restrictions } = setup();
    connection.start();
    sockets[0]!.open();
    sockets[0]!.receive({ type: 'hello', user, position: 1 });
    sockets[0]!.drop(code);
    clock.advance(60_000);
    expect(sockets).toHaveLength(1);
    expect(restrictions).toEqual([restriction]);
  });

  it('reconnects immediately on demand and ignores frames from replaced sockets', () => {
    const { connection, sockets, events } = setup();
    connection.start();
    sockets[0]!.open();
    sockets[0]!.receive({ type: 'hello', user, position: 1 });
    const stale = sockets[0]!;
    stale.drop();
    connection.reconnectNow();
    expect(sockets).toHaveLength(2);
    stale.receive({ type: 'event', position: 2, event: created(7) });
    expect(events).toEqual([]);
    connection.stop();
    expect(sockets[1]!.closedWith).toBe(1000);
    expect(connection.status).toBe('idle');
  });
});
