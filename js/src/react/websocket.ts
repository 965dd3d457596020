// useTracedWebSocket: a WebSocket owned by a component, traced by the SDK, reopened with backoff
// when it closes, and closed when the component unmounts.
import { useCallback, useContext, useEffect, useRef, useState } from 'react';
import { pageInitializer } from '../index.js';
import { reconnectDelay, type ReconnectOptions } from '../backoff.js';
import { TracewireContext } from './context.js';

/** What a message may be: JSON-able objects are sent as JSON text. */
export type OutgoingMessage = string | ArrayBufferLike | ArrayBufferView | Blob | Record<string, unknown> | unknown[];

export interface TracedWebSocketOptions {
  /** Called for every message, after `lastMessage` is set; runs inside the `ws.process` span. */
  onMessage?: (event: MessageEvent) => void;
  /** Subprotocols offered in the handshake. */
  protocols?: string | string[];
  /** Reopen the socket after it closes: true (default), false, or the backoff schedule. */
  reconnect?: boolean | ReconnectOptions;
}

export interface TracedWebSocketResult {
  /** Sends a message; objects and arrays as JSON. False when the socket is not open (nothing is sent). */
  send: (message: OutgoingMessage) => boolean;
  /** `WebSocket.readyState` of the current socket (CONNECTING while waiting to reconnect is CLOSED). */
  readyState: number;
  /** The latest message received, or null. */
  lastMessage: MessageEvent | null;
  /** Reconnects made so far by this hook instance. */
  reconnects: number;
}

/** The part of `WebSocket` and `TracedWebSocket` the hook uses. */
interface SocketLike {
  readonly readyState: number;
  send(data: unknown): void;
  close(code?: number, reason?: string): void;
  onopen: unknown;
  onmessage: unknown;
  onclose: unknown;
  onerror: unknown;
  free?: () => void;
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;

function encode(message: OutgoingMessage): unknown {
  if (typeof message === 'string' || message instanceof Blob || ArrayBuffer.isView(message)) return message;
  if (message instanceof ArrayBuffer) return message;
  if (typeof SharedArrayBuffer !== 'undefined' && message instanceof SharedArrayBuffer) return message;
  return JSON.stringify(message);
}

/**
 * Opens a WebSocket to `url` for as long as the component is mounted. With a running SDK the socket
 * is a `TracedWebSocket` (trace context in each JSON message, spans per message); without one
 * (no provider, or the wasm failed to load) it is a plain `WebSocket`. Changing `url`,
 * `protocols` or `reconnect` opens a new socket.
 */
export function useTracedWebSocket(url: string, options: TracedWebSocketOptions = {}): TracedWebSocketResult {
  const { status } = useContext(TracewireContext);
  const [readyState, setReadyState] = useState<number>(CONNECTING);
  const [lastMessage, setLastMessage] = useState<MessageEvent | null>(null);
  const [reconnects, setReconnects] = useState(0);
  const socketRef = useRef<SocketLike | null>(null);
  const onMessageRef = useRef(options.onMessage);
  useEffect(() => {
    onMessageRef.current = options.onMessage;
  });

  // Compared by value, so inline option objects do not reopen the socket on every render.
  const protocolsKey = JSON.stringify(options.protocols ?? null);
  const reconnectKey = JSON.stringify(options.reconnect ?? true);
  // Wait until the SDK has loaded (or failed), so the socket is traced from its first message.
  const settled = status !== 'loading';

  useEffect(() => {
    if (!settled) return;
    const protocols = JSON.parse(protocolsKey) as string | string[] | null;
    const reconnectOption = JSON.parse(reconnectKey) as boolean | ReconnectOptions;
    const schedule: ReconnectOptions | null =
      reconnectOption === false ? null : reconnectOption === true ? {} : reconnectOption;
    const sdk = status === 'ready' ? pageInitializer().module() : null;
    let disposed = false;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const release = (socket: SocketLike) => {
      // A TracedWebSocket owns wasm memory and listeners; free it after its close event has been
      // dispatched (freeing inside the dispatch would drop the closure that is running).
      if (socket.free) setTimeout(() => socket.free?.(), 0);
    };

    const retry = () => {
      if (disposed || schedule === null) return;
      const delay = reconnectDelay(attempt, schedule);
      if (delay === null) return;
      attempt += 1;
      timer = setTimeout(() => {
        setReconnects((n) => n + 1);
        open();
      }, delay);
    };

    const open = () => {
      if (disposed) return;
      let socket: SocketLike;
      try {
        socket = sdk
          ? (new sdk.TracedWebSocket(url, protocols ?? undefined) as unknown as SocketLike)
          : (new WebSocket(url, protocols ?? undefined) as unknown as SocketLike);
      } catch (error) {
        console.warn('tracewire: cannot open WebSocket', url, error);
        setReadyState(CLOSED);
        retry();
        return;
      }
      socketRef.current = socket;
      setReadyState(CONNECTING);
      socket.onopen = () => {
        if (disposed) return;
        attempt = 0;
        setReadyState(OPEN);
      };
      socket.onmessage = (event: MessageEvent) => {
        if (disposed) return;
        setLastMessage(event);
        onMessageRef.current?.(event);
      };
      socket.onerror = () => {
        // A close event follows every error; reconnecting happens there.
      };
      socket.onclose = () => {
        if (socketRef.current === socket) socketRef.current = null;
        release(socket);
        if (disposed) return;
        setReadyState(CLOSED);
        retry();
      };
    };

    open();
    return () => {
      disposed = true;
      clearTimeout(timer);
      const socket = socketRef.current;
      socketRef.current = null;
      if (!socket) return;
      if (socket.readyState === CLOSED) release(socket);
      else socket.close(1000, 'component unmounted');
    };
  }, [url, protocolsKey, reconnectKey, settled, status]);

  const send = useCallback((message: OutgoingMessage): boolean => {
    const socket = socketRef.current;
    if (!socket || socket.readyState !== OPEN) return false;
    try {
      socket.send(encode(message));
      return true;
    } catch (error) {
      console.warn('tracewire: WebSocket send failed', error);
      return false;
    }
  }, []);

  return { send, readyState, lastMessage, reconnects };
}
