import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as zmq from "zeromq";
import { Codec, type Message } from "./protocol";
import { findTslab, type KernelSpec } from "./kernelspec";
import { preloadScript } from "../tslab/sends";
import { freePorts } from "./ports";

/** An nbformat 4 output. */
export type Output = Record<string, unknown> & { output_type: string };

export interface ExecuteResult {
  /** ok; error (the kernel said so); timeout (interrupted, then killed if needed); died (the process exited). */
  status: "ok" | "error" | "abort" | "timeout" | "died";
  outputs: Output[];
  executionCount: number | null;
  /** The error message the kernel sent (or, from a kernel that sends none, what the cell wrote to stderr). */
  errorText: string;
  ms: number;
  /** Whether the kernel began the cell (it announced "busy" for it). */
  started: boolean;
  /** Whether its execute_reply came in time (a cell is done when that and "idle" have come). */
  replied: boolean;
}

export interface KernelOptions {
  /** Folder the kernel runs in (the notebook's folder). */
  cwd: string;
  /** Run the JavaScript flavour (jslab) instead of TypeScript. */
  js?: boolean;
  startupTimeoutMs?: number;
  /** How long an interrupted cell may take to stop before the kernel is killed. */
  interruptGraceMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Another kernel: its kernelspec (argv with {connection_file}; see findKernelSpec). Default: the notebook's tslab. */
  spec?: KernelSpec;
  /**
   * After a cell's reply and idle, keep listening this long for its output
   * (default 0 for tslab, 150 ms for another kernel): Deno's kernel sends
   * console output from another thread and gives it 5 ms to arrive, which a
   * loaded machine overruns, so the last lines of a cell come after idle.
   */
  lateOutputMs?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Pending {
  outputs: Output[];
  reply: Message | null;
  /** The kernel said it was busy with this request: it received it. */
  started: boolean;
  idle: boolean;
  done: () => void;
}

/**
 * A client for one kernel, whatever carries its messages: it tracks each
 * request's outputs, reply and idle, and runs cells. Every wait races the
 * kernel's end (`ended()`), so a kernel that dies ends the wait instead of
 * hanging it. Subclasses send the messages and interrupt or kill the kernel.
 */
export abstract class KernelClient {
  protected codec = new Codec("");
  private pending = new Map<string, Pending>();
  private exitWaiters: Array<() => void> = [];
  private onIopubAny: (() => void) | null = null;
  /** The tail of what the kernel process printed itself (not cell output), or what its server said. */
  log = "";
  exit: { code: number | null; signal: string | null } | null = null;
  /** Display ids seen, for update_display_data. */
  readonly displays = new Map<string, Output[]>();

  constructor(protected readonly options: Pick<KernelOptions, "interruptGraceMs" | "lateOutputMs">) {}

  get alive(): boolean {
    return this.exit === null;
  }

  protected abstract send(channel: "shell" | "control", msg: Message<unknown>): Promise<void>;
  /** Ask the kernel to stop the running cell (SIGINT, or the server's interrupt). */
  protected abstract interrupt(): Promise<void>;
  /** End the kernel now. */
  abstract kill(): Promise<void>;
  /** Shut the kernel down and release what the client holds. */
  abstract shutdown(): Promise<void>;
  /** Start the kernel and connect to it. */
  protected abstract boot(): Promise<void>;
  /** How long to listen for a cell's output after its reply and idle (see KernelOptions.lateOutputMs). */
  protected abstract readonly lateOutputMsDefault: number;

  /** `k` booted, or shut down again (releasing what it holds) and the error thrown. */
  protected static async booted<K extends KernelClient>(k: K): Promise<K> {
    try {
      await k.boot();
    } catch (e) {
      await k.shutdown();
      throw e;
    }
    return k;
  }

  /** The kernel is gone (`how` says how): every wait ends. */
  protected ended(how: { code: number | null; signal: string | null }): void {
    this.exit ??= how;
    for (const w of this.exitWaiters.splice(0)) w();
    for (const p of this.pending.values()) p.done();
  }

  describeExit(): string {
    if (!this.exit) return "running";
    return this.exit.signal ? `killed by ${this.exit.signal}` : `exit code ${this.exit.code}`;
  }

  protected waitExit(ms: number): Promise<void> {
    if (!this.alive) return Promise.resolve();
    return Promise.race([new Promise<void>((r) => this.exitWaiters.push(r)), sleep(ms)]);
  }

  /**
   * iopub is a subscription: messages sent before it is joined are lost. Ask
   * for kernel_info until a reply has come and iopub has carried something.
   */
  protected async handshake(startupTimeoutMs: number): Promise<void> {
    const deadline = Date.now() + startupTimeoutMs;
    let sawIopub = false;
    this.onIopubAny = () => (sawIopub = true);
    let replied = false;
    while (!(replied && sawIopub)) {
      if (!this.alive) throw new Error(`the kernel exited while starting (${this.describeExit()})\n${this.log.trim()}`);
      if (Date.now() > deadline) throw new Error(`the kernel did not answer within ${startupTimeoutMs / 1000} s\n${this.log.trim()}`);
      const msg = this.codec.request("kernel_info_request", {});
      const p = this.track(msg.header.msg_id);
      await this.send("shell", msg);
      await Promise.race([p.promise, sleep(500)]);
      replied ||= p.state.reply !== null;
      this.pending.delete(msg.header.msg_id);
    }
    this.onIopubAny = null;
  }

  private track(msgId: string): { state: Pending; promise: Promise<void> } {
    let done!: () => void;
    const promise = new Promise<void>((r) => (done = r));
    const state: Pending = { outputs: [], reply: null, started: false, idle: false, done };
    this.pending.set(msgId, state);
    if (!this.alive) done();
    return { state, promise };
  }

  /** A message from the kernel: a reply (shell or control) or an iopub message. */
  protected dispatch(msg: Message, fromIopub: boolean): void {
    if (fromIopub) this.onIopubAny?.();
    const parent = msg.parent_header.msg_id;
    const p = parent ? this.pending.get(parent) : undefined;
    if (!fromIopub) {
      if (p) {
        p.reply = msg;
        if (p.idle || msg.header.msg_type === "kernel_info_reply") p.done();
      }
      return;
    }
    const type = msg.header.msg_type;
    const c = msg.content as Record<string, any>;
    if (type === "update_display_data") {
      // Updates apply wherever that display id is shown, in any cell.
      for (const out of this.displays.get(c.transient?.display_id) ?? []) {
        out.data = c.data;
        out.metadata = c.metadata ?? {};
      }
      return;
    }
    if (!p) return;
    switch (type) {
      case "status":
        if (c.execution_state === "busy") p.started = true;
        if (c.execution_state === "idle") {
          p.idle = true;
          if (p.reply) p.done();
        }
        break;
      case "stream": {
        const last = p.outputs[p.outputs.length - 1];
        if (last && last.output_type === "stream" && last.name === c.name) last.text = (last.text as string) + c.text;
        else p.outputs.push({ output_type: "stream", name: c.name, text: c.text });
        break;
      }
      case "display_data": {
        const out: Output = { output_type: "display_data", data: c.data, metadata: c.metadata ?? {} };
        p.outputs.push(out);
        const id = c.transient?.display_id;
        if (id) this.displays.set(id, [...(this.displays.get(id) ?? []), out]);
        break;
      }
      case "execute_result":
        p.outputs.push({
          output_type: "execute_result",
          data: c.data,
          metadata: c.metadata ?? {},
          execution_count: c.execution_count ?? null,
        });
        break;
      case "error":
        p.outputs.push({ output_type: "error", ename: c.ename, evalue: c.evalue, traceback: c.traceback ?? [] });
        break;
      case "clear_output":
        p.outputs.length = 0;
        break;
    }
  }

  /** Run one cell. Never throws for the cell's own failures: see `status`. */
  async execute(code: string, timeoutMs: number): Promise<ExecuteResult> {
    const start = Date.now();
    const msg = this.codec.request("execute_request", {
      code,
      silent: false,
      store_history: true,
      user_expressions: {},
      allow_stdin: false,
      stop_on_error: true,
    });
    const { state, promise } = this.track(msg.header.msg_id);
    const finish = (status: ExecuteResult["status"], replied = state.reply !== null): ExecuteResult => {
      this.pending.delete(msg.header.msg_id);
      const reply = state.reply?.content as { status?: string; execution_count?: number } | undefined;
      return {
        status,
        outputs: state.outputs,
        executionCount: reply?.execution_count ?? null,
        errorText: errorText(state.outputs),
        ms: Date.now() - start,
        started: state.started,
        replied,
      };
    };
    if (!this.alive) return finish("died");
    await this.send("shell", msg);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      promise.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      const repliedInTime = state.reply !== null;
      // Interrupt first (tslab stops awaiting code on SIGINT); a busy loop
      // ignores it, so kill after a grace period.
      await this.interrupt();
      const grace = this.options.interruptGraceMs ?? 3000;
      await Promise.race([promise, sleep(grace)]);
      if (state.reply === null) await this.kill();
      return finish("timeout", repliedInTime);
    }
    if (state.reply === null) return finish("died");
    const late = this.options.lateOutputMs ?? this.lateOutputMsDefault;
    if (late > 0) await sleep(late);
    const status = (state.reply.content as { status?: string }).status;
    return finish(status === "ok" ? "ok" : status === "abort" ? "abort" : "error");
  }
}

/**
 * A tslab kernel process (or another kernelspec's) and a client for it: shell
 * and control as Dealer sockets, iopub as a Subscriber.
 */
export class Kernel extends KernelClient {
  private proc!: ChildProcess;
  private shell = new zmq.Dealer({ linger: 0 });
  private control = new zmq.Dealer({ linger: 0 });
  private iopub = new zmq.Subscriber({ linger: 0 });
  private dir = mkdtempSync(path.join(tmpdir(), "kernel-lib-run-"));
  protected readonly lateOutputMsDefault: number;

  private constructor(protected override readonly options: KernelOptions) {
    super(options);
    this.lateOutputMsDefault = options.spec ? 150 : 0;
  }

  static start(options: KernelOptions): Promise<Kernel> {
    return KernelClient.booted(new Kernel(options));
  }

  protected async boot(): Promise<void> {
    const { cwd, js = false, startupTimeoutMs = 60_000 } = this.options;
    const [shell, iopub, stdin, control, hb] = await freePorts(5);
    const key = randomUUID();
    this.codec = new Codec(key);
    const connFile = path.join(this.dir, "connection.json");
    writeFileSync(
      connFile,
      JSON.stringify({
        shell_port: shell,
        iopub_port: iopub,
        stdin_port: stdin,
        control_port: control,
        hb_port: hb,
        ip: "127.0.0.1",
        key,
        transport: "tcp",
        signature_scheme: "hmac-sha256",
        kernel_name: this.options.spec?.name ?? (js ? "jslab" : "tslab"),
      }),
    );
    let command = process.execPath;
    let args: string[];
    if (this.options.spec) {
      [command, ...args] = this.options.spec.argv.map((a) => a.replace("{connection_file}", connFile));
    } else {
      args = ["--require", preloadScript, findTslab(cwd).script, "kernel", "--config-path", connFile];
      if (js) args.push("--js");
    }
    this.proc = spawn(command, args, {
      cwd,
      env: { ...(this.options.env ?? process.env), ...this.options.spec?.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const keep = (chunk: Buffer) => {
      this.log = (this.log + chunk.toString()).slice(-8000);
    };
    this.proc.stdout!.on("data", keep);
    this.proc.stderr!.on("data", keep);
    this.proc.on("exit", (code, signal) => this.ended({ code, signal }));
    this.proc.on("error", (e) => {
      this.log += `\n${e.message}`;
      this.ended({ code: null, signal: null });
    });

    this.shell.connect(`tcp://127.0.0.1:${shell}`);
    this.control.connect(`tcp://127.0.0.1:${control}`);
    this.iopub.connect(`tcp://127.0.0.1:${iopub}`);
    this.iopub.subscribe();
    void this.readLoop(this.shell);
    void this.readLoop(this.control);
    void this.readLoop(this.iopub);
    await this.handshake(startupTimeoutMs);
  }

  private async readLoop(socket: zmq.Dealer | zmq.Subscriber): Promise<void> {
    try {
      for await (const frames of socket) {
        const msg = this.codec.decode(frames as Buffer[]);
        if (msg) this.dispatch(msg, socket === this.iopub);
      }
    } catch {
      // the socket was closed
    }
  }

  protected async send(channel: "shell" | "control", msg: Message<unknown>): Promise<void> {
    await (channel === "shell" ? this.shell : this.control).send(this.codec.encode(msg));
  }

  protected async interrupt(): Promise<void> {
    this.proc.kill("SIGINT");
  }

  async kill(): Promise<void> {
    if (this.alive && this.proc) {
      this.proc.kill("SIGKILL");
      await this.waitExit(5000);
    }
  }

  /** Ask the kernel to shut down; kill it if it does not within a second. */
  async shutdown(): Promise<void> {
    if (this.alive && this.proc) {
      try {
        await this.send("control", this.codec.request("shutdown_request", { restart: false }));
      } catch {
        // fall through to kill
      }
      await this.waitExit(1000);
      await this.kill();
    }
    for (const s of [this.shell, this.control, this.iopub]) s.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * What a failing cell reports: its error message (name, message, traceback), as
 * IPython and the patched tslab send it; only a kernel that sends none is
 * judged by what the cell wrote to stderr.
 */
function errorText(outputs: Output[]): string {
  const errors = outputs.filter((o) => o.output_type === "error");
  if (errors.length === 0) {
    return outputs
      .filter((o) => o.output_type === "stream" && o.name === "stderr")
      .map((o) => o.text as string)
      .join("")
      .trim();
  }
  return errors
    .map((o) => {
      const traceback = ((o.traceback as string[] | undefined) ?? []).join("\n").replace(/\x1b\[[0-9;]*m/g, "");
      return traceback.includes(String(o.evalue)) ? traceback : `${o.ename}: ${o.evalue}${traceback ? `\n${traceback}` : ""}`;
    })
    .join("\n")
    .trim();
}
