// The /ws connection: one per logged-in tab, reconnecting with backoff. Frames sent while it is
// down wait in an outbox; on every (re)open, `onOpen` lets the app re-subscribe its live answers.

export class Socket {
  constructor({ onFrame, onOpen, onState, onUnauthorized }) {
    Object.assign(this, { onFrame, onOpen, onState, onUnauthorized });
    this.ws = null;
    this.token = null;
    this.ready = false;
    this.outbox = [];
    this.retry = 0;
    this.timer = null;
  }

  connect(token) {
    this.close();
    this.token = token;
    this.open();
  }

  open() {
    if (!this.token) return;
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${proto}://${location.host}/ws?token=${encodeURIComponent(this.token)}`);
    this.ws = ws;
    ws.onopen = () => {
      if (ws !== this.ws) return;
      this.ready = true;
      this.retry = 0;
      this.onState(true);
      this.onOpen();
      while (this.outbox.length && this.ready) ws.send(JSON.stringify(this.outbox.shift()));
    };
    ws.onmessage = (event) => {
      if (ws !== this.ws) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onFrame(frame);
    };
    ws.onclose = (event) => {
      if (ws !== this.ws) return;
      this.ready = false;
      this.onState(false);
      if (event.code === 4401) {
        this.token = null;
        this.onUnauthorized();
        return;
      }
      if (this.token) {
        // 4503: the web process is draining (a deploy); another one takes the socket at once.
        const wait = event.code === 4503 ? 0 : Math.min(10_000, 500 * 2 ** this.retry++);
        this.timer = setTimeout(() => this.open(), wait);
      }
    };
  }

  send(frame) {
    if (this.ready) this.ws.send(JSON.stringify(frame));
    else this.outbox.push(frame);
  }

  /** Drop the connection and everything queued (logout). */
  close() {
    clearTimeout(this.timer);
    this.token = null;
    this.outbox = [];
    this.ready = false;
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000);
  }
}
