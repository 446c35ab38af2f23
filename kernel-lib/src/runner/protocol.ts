import { createHmac, randomUUID } from "node:crypto";

/** The Jupyter messaging protocol (v5.3) wire format, HMAC-SHA256 signed. */

const DELIMITER = "<IDS|MSG>";

export interface Header {
  msg_id: string;
  msg_type: string;
  session: string;
  username: string;
  date: string;
  version: string;
}

export interface Message<C = Record<string, unknown>> {
  header: Header;
  parent_header: Partial<Header>;
  metadata: Record<string, unknown>;
  content: C;
}

export class Codec {
  readonly session = randomUUID();
  constructor(private readonly key: string) {}

  private sign(parts: string[]): string {
    const hmac = createHmac("sha256", this.key);
    for (const p of parts) hmac.update(p);
    return hmac.digest("hex");
  }

  /** A new request message of `msgType`. */
  request<C>(msgType: string, content: C): Message<C> {
    return {
      header: {
        msg_id: randomUUID(),
        msg_type: msgType,
        session: this.session,
        username: "kernel-lib-runner",
        date: new Date().toISOString(),
        version: "5.3",
      },
      parent_header: {},
      metadata: {},
      content,
    };
  }

  encode(msg: Message<unknown>): string[] {
    const parts = [msg.header, msg.parent_header, msg.metadata, msg.content].map((p) => JSON.stringify(p));
    return [DELIMITER, this.sign(parts), ...parts];
  }

  /** Parse frames received from the kernel; null if malformed or wrongly signed. */
  decode(frames: Buffer[]): Message | null {
    const at = frames.findIndex((f) => f.toString() === DELIMITER);
    if (at < 0 || frames.length < at + 6) return null;
    const parts = frames.slice(at + 2, at + 6).map((f) => f.toString());
    if (frames[at + 1].toString() !== this.sign(parts)) return null;
    try {
      const [header, parent_header, metadata, content] = parts.map((p) => JSON.parse(p));
      return { header, parent_header, metadata, content };
    } catch {
      return null;
    }
  }
}
