//! The WebSocket connection: connects, answers heartbeats, drops events it
//! has already processed, and reconnects with exponential backoff resuming
//! from the last position (`since`). It knows nothing about messages or UI;
//! it hands frames to its owner.

import type { ClientFrame, EventPayload, ServerFrame, User } from '../api/types';

export type ConnectionStatus =
  /** Not started, or stopped by the owner. */
  | 'idle'
  /** A socket is opening or waiting for `hello`. */
  | 'connecting'
  /** `hello` received: live. */
  | 'online'
  /** The socket dropped; a reconnect is scheduled. */
  | 'offline'
  /** The server revoked the session (close code 4001); no reconnect. */
  | 'revoked';

/** The subset of the browser WebSocket this module uses, so tests can fake it. */
export interface SocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason?: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface Scheduler {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface ConnectionHandlers {
  /** `resumed` is false on a first connection (no `since`): the owner must reload state over REST. */
  onHello(user: User, position: number, resumed: boolean, onlineUserIds?: number[]): void;
  onEvent(event: EventPayload, position: number): void;
  onCaughtUp?(position: number): void;
  /**
   * The server's journal ends before the position we resumed from (it was
   * restored or replaced): positions continue from `position`, and what the
   * owner holds may be stale, so it reloads state over REST.
   */
  onReset?(position: number): void;
  /** Ephemeral frames: typing, presence, ack, nack, error. */
  onFrame?(frame: ServerFrame): void;
  onStatus(status: ConnectionStatus): void;
  /**
   * The server closed the socket because the session is restricted until
   * the user accepts the acceptable-use policy (4031) or enrols MFA (4032).
   * The connection stops; the owner starts a new one once that is done.
   */
  onRestricted?(restriction: 'policy' | 'mfa_enrolment'): void;
}

export interface ConnectionOptions {
  /** Builds the socket URL; `since` is undefined on a first connection. */
  url: (since: number | undefined) => string;
  createSocket: (url: string) => SocketLike;
  handlers: ConnectionHandlers;
  scheduler?: Scheduler;
  random?: () => number;
  minDelayMs?: number;
  maxDelayMs?: number;
  /** Used when the server's hello does not say its heartbeat interval. */
  defaultHeartbeatMs?: number;
}

const OPEN = 1;
/** Close codes after which reconnecting cannot help. */
const CLOSE_REVOKED = 4001;
const CLOSE_POLICY_ACCEPTANCE_REQUIRED = 4031;
const CLOSE_MFA_ENROLMENT_REQUIRED = 4032;

export class RealtimeConnection {
  /** The newest event position processed; sent as `since` on reconnect. */
  position: number | undefined;
  status: ConnectionStatus = 'idle';
  /** Reconnect attempts since the last successful hello. */
  attempts = 0;

  private socket: SocketLike | null = null;
  private reconnectTimer: unknown = null;
  private watchdogTimer: unknown = null;
  private heartbeatMs: number;
  private stopped = true;
  private readonly scheduler: Scheduler;
  private readonly random: () => number;
  private readonly minDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(private readonly options: ConnectionOptions) {
    this.scheduler = options.scheduler ?? {
      setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
      clearTimeout: (handle) => globalThis.clearTimeout(handle as number),
    };
    this.random = options.random ?? Math.random;
    this.minDelayMs = options.minDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 15_000;
    this.heartbeatMs = options.defaultHeartbeatMs ?? 30_000;
  }

  start(position?: number): void {
    if (position !== undefined) this.position = position;
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      detach(socket);
      socket.close(1000, 'client stopped');
    }
    this.setStatus('idle');
  }

  /** Sends a frame if the socket is open; answers whether it was sent. */
  send(frame: ClientFrame): boolean {
    if (!this.socket || this.socket.readyState !== OPEN || this.status !== 'online') return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /** Reconnects now instead of waiting for the backoff (for example when the browser comes back online). */
  reconnectNow(): void {
    if (this.stopped || this.status === 'revoked') return;
    if (this.status === 'online' || this.status === 'connecting') return;
    this.scheduler.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.connect();
  }

  /** The delay before reconnect attempt number `attempt` (0-based): exponential with jitter, capped. */
  backoffDelay(attempt: number): number {
    const exponential = Math.min(this.maxDelayMs, this.minDelayMs * 2 ** attempt);
    // Full jitter on the upper half so many clients do not reconnect in step.
    return Math.round(exponential / 2 + (this.random() * exponential) / 2);
  }

  private connect(): void {
    this.clearTimers();
    const previous = this.socket;
    if (previous) {
      detach(previous);
      previous.close(1000, 'reconnecting');
    }
    this.setStatus('connecting');
    const since = this.position;
    let socket: SocketLike;
    try {
      socket = this.options.createSocket(this.options.url(since));
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.onmessage = (event) => this.receive(socket, event.data, since !== undefined);
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (event.code === CLOSE_REVOKED) {
        this.clearTimers();
        this.stopped = true;
        this.setStatus('revoked');
        return;
      }
      if (event.code === CLOSE_POLICY_ACCEPTANCE_REQUIRED || event.code === CLOSE_MFA_ENROLMENT_REQUIRED) {
        // Reconnecting would only be refused (403) until the user acts.
        this.clearTimers();
        this.stopped = true;
        this.setStatus('idle');
        this.options.handlers.onRestricted?.(event.code === CLOSE_POLICY_ACCEPTANCE_REQUIRED ? 'policy' : 'mfa_enrolment');
        return;
      }
      this.scheduleReconnect();
    };
    socket.onerror = () => {
      // A close event always follows an error; reconnecting happens there.
    };
    this.armWatchdog();
  }

  private receive(socket: SocketLike, data: unknown, resumed: boolean): void {
    if (this.socket !== socket || typeof data !== 'string') return;
    let frame: ServerFrame;
    try {
      frame = JSON.parse(data) as ServerFrame;
    } catch {
      return;
    }
    this.armWatchdog();
    switch (frame.type) {
      case 'hello':
        this.attempts = 0;
        if (frame.heartbeat_ms && frame.heartbeat_ms > 0) this.heartbeatMs = frame.heartbeat_ms;
        this.armWatchdog();
        if (this.position === undefined) this.position = frame.position;
        this.setStatus('online');
        this.options.handlers.onHello(frame.user, frame.position, resumed, frame.online_user_ids);
        return;
      case 'event':
        // Positions only grow; anything at or below ours was already applied.
        if (this.position !== undefined && frame.position <= this.position) return;
        this.position = frame.position;
        this.options.handlers.onEvent(frame.event, frame.position);
        return;
      case 'caught_up':
        if (this.position === undefined || frame.position > this.position) this.position = frame.position;
        this.options.handlers.onCaughtUp?.(frame.position);
        return;
      case 'reset':
        // Our position is from a journal the server no longer has; keeping it
        // would make every new event look already applied.
        this.position = frame.position;
        this.options.handlers.onReset?.(frame.position);
        return;
      case 'ping':
        socket.send(JSON.stringify({ type: 'pong' }));
        return;
      case 'pong':
        return;
      default:
        this.options.handlers.onFrame?.(frame);
    }
  }

  private scheduleReconnect(): void {
    this.clearTimers();
    if (this.stopped) return;
    this.setStatus('offline');
    const delay = this.backoffDelay(this.attempts);
    this.attempts += 1;
    this.reconnectTimer = this.scheduler.setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  /**
   * A socket that hears nothing for more than two heartbeats is presumed
   * dead (a silently dropped connection never fires `close`), so it is
   * dropped and a reconnect begins.
   */
  private armWatchdog(): void {
    this.scheduler.clearTimeout(this.watchdogTimer);
    this.watchdogTimer = this.scheduler.setTimeout(() => {
      this.watchdogTimer = null;
      const socket = this.socket;
      if (!socket) return;
      this.socket = null;
      detach(socket);
      socket.close(4000, 'heartbeat timeout');
      this.scheduleReconnect();
    }, this.heartbeatMs * 2 + 5_000);
  }

  private clearTimers(): void {
    this.scheduler.clearTimeout(this.reconnectTimer);
    this.scheduler.clearTimeout(this.watchdogTimer);
    this.reconnectTimer = null;
    this.watchdogTimer = null;
  }

  private setStatus(status: ConnectionStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.options.handlers.onStatus(status);
  }
}

function detach(socket: SocketLike): void {
  socket.onopen = null;
  socket.onmessage = null;
  socket.onclose = null;
  socket.onerror = null;
}
