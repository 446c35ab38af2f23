import WebSocket from "ws";
import { KernelClient, type KernelOptions } from "./kernel";
import type { Message } from "./protocol";

/** A running Jupyter server (a JupyterHub user's: https://hub/user/NAME/) and a token it accepts. */
export interface JupyterServer {
  url: string;
  token?: string;
}

export interface ServerKernelOptions extends Pick<KernelOptions, "startupTimeoutMs" | "interruptGraceMs" | "lateOutputMs"> {
  server: JupyterServer;
  /** The notebook's path on the server, relative to its root: the kernel starts in that folder. */
  path: string;
  /** The kernelspec to start there (tslab, jslab or another the server has). */
  kernelName: string;
}

/** The server's address with one trailing slash, checked. */
function baseUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--server needs a URL such as http://127.0.0.1:8888/ or https://hub.example.org/user/NAME/, got "${url}"`);
  }
  if (!/^https?:$/.test(u.protocol)) throw new Error(`--server needs an http or https URL, got "${url}"`);
  if (!u.pathname.endsWith("/")) u.pathname += "/";
  return u;
}

/**
 * A kernel on a Jupyter server, started and spoken to as JupyterLab does:
 * a session for the notebook's path (POST api/sessions), then the kernel's
 * websocket (api/kernels/ID/channels), JSON messages with their channel. The
 * server signs and routes them; a kernel that dies shows as the status
 * "restarting" or "dead" (the server restarts it, but the cell's state is
 * gone), or as the websocket closing.
 */
export class ServerKernel extends KernelClient {
  private ws: WebSocket | null = null;
  private sessionId: string | null = null;
  private kernelId: string | null = null;
  private readonly base: URL;
  protected readonly lateOutputMsDefault: number;

  private constructor(private readonly serverOptions: ServerKernelOptions) {
    super(serverOptions);
    this.base = baseUrl(serverOptions.server.url);
    this.lateOutputMsDefault = /^(tslab|jslab)$/.test(serverOptions.kernelName) ? 0 : 150;
  }

  static start(options: ServerKernelOptions): Promise<ServerKernel> {
    return KernelClient.booted(new ServerKernel(options));
  }

  /** The server's kernel id, once started. */
  get id(): string | null {
    return this.kernelId;
  }

  private headers(): Record<string, string> {
    const token = this.serverOptions.server.token;
    return token ? { Authorization: `token ${token}` } : {};
  }

  /** A REST call to the server; throws with the server's own message on an HTTP error. */
  private async api(method: string, route: string, body?: unknown): Promise<unknown> {
    const url = new URL(route, this.base);
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { ...this.headers(), ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        redirect: "manual",
        signal: AbortSignal.timeout(this.serverOptions.startupTimeoutMs ?? 60_000),
      });
    } catch (e) {
      throw new Error(`${method} ${url.href}: ${(e as Error).cause ?? (e as Error).message}`);
    }
    const text = await res.text();
    if (res.status >= 300) {
      const hint = res.status === 401 || res.status === 403 || (res.status >= 300 && res.status < 400) ? " (the server wants a token it accepts: --token or JUPYTER_TOKEN)" : "";
      let message = text.slice(0, 300);
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {
        // not JSON: keep the text
      }
      throw new Error(`${method} ${url.href}: HTTP ${res.status}${hint}${message ? `: ${message}` : ""}`);
    }
    return text ? JSON.parse(text) : null;
  }

  protected async boot(): Promise<void> {
    const { path: nbPath, kernelName, startupTimeoutMs = 60_000 } = this.serverOptions;
    const session = (await this.api("POST", "api/sessions", {
      path: nbPath,
      name: nbPath.split("/").pop(),
      type: "notebook",
      kernel: { name: kernelName },
    })) as { id: string; kernel: { id: string } };
    this.sessionId = session.id;
    this.kernelId = session.kernel.id;
    const wsUrl = new URL(`api/kernels/${this.kernelId}/channels`, this.base);
    wsUrl.protocol = wsUrl.protocol === "https:" ? "wss:" : "ws:";
    wsUrl.searchParams.set("session_id", this.codec.session);
    const ws = new WebSocket(wsUrl, { headers: this.headers() });
    this.ws = ws;
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", (e) => reject(new Error(`the kernel's websocket ${wsUrl.href}: ${e.message}`)));
      ws.once("unexpected-response", (_req, res) => reject(new Error(`the kernel's websocket ${wsUrl.href}: HTTP ${res.statusCode}`)));
    });
    ws.on("message", (data) => this.receive(String(data)));
    ws.on("close", (code, reason) => {
      this.log += `\nthe websocket closed (${code}${reason.length ? `: ${reason}` : ""})`;
      this.ended({ code: null, signal: null });
    });
    ws.on("error", (e) => (this.log += `\n${e.message}`));
    await this.handshake(startupTimeoutMs);
  }

  private receive(text: string): void {
    let msg: Message & { channel?: string };
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    const state = (msg.content as { execution_state?: string }).execution_state;
    if (msg.channel === "iopub" && msg.header?.msg_type === "status" && (state === "restarting" || state === "dead")) {
      this.log += `\nthe server says the kernel is ${state === "dead" ? "dead" : "restarting: it died"}`;
      this.ended({ code: null, signal: state === "dead" ? "dead" : "a restart" });
      return;
    }
    if (msg.channel === "iopub") this.dispatch(msg, true);
    else if (msg.channel === "shell" || msg.channel === "control") this.dispatch(msg, false);
  }

  protected async send(channel: "shell" | "control", msg: Message<unknown>): Promise<void> {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    await new Promise<void>((resolve, reject) => ws.send(JSON.stringify({ ...msg, channel, buffers: [] }), (e) => (e ? reject(e) : resolve())));
  }

  protected async interrupt(): Promise<void> {
    if (this.kernelId) await this.api("POST", `api/kernels/${this.kernelId}/interrupt`).catch((e) => (this.log += `\n${(e as Error).message}`));
  }

  /** End the session and its kernel on the server. */
  async kill(): Promise<void> {
    if (this.sessionId) {
      const id = this.sessionId;
      this.sessionId = null;
      await this.api("DELETE", `api/sessions/${id}`).catch((e) => (this.log += `\n${(e as Error).message}`));
    }
    this.ended({ code: null, signal: "the runner (session deleted)" });
  }

  async shutdown(): Promise<void> {
    await this.kill();
    this.ws?.close();
  }
}
