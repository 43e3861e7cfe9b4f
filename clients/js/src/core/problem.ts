/** RFC 9457 problem documents, as the server answers them, and the SDK's own failures in the same shape. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  [member: string]: unknown;
}

/** What every failing SDK call rejects with: never a bare string. `status` 0 means the network failed. */
export class ProblemError extends Error {
  readonly problem: Problem;
  readonly retryAfter: number | null;
  constructor(problem: Problem, retryAfter: number | null = null) {
    super(`${problem.status} ${problem.type}: ${problem.title}${problem.detail ? ` (${problem.detail})` : ""}`);
    this.name = "ProblemError";
    this.problem = problem;
    this.retryAfter = retryAfter;
  }
  get type(): string {
    return this.problem.type;
  }
  get status(): number {
    return this.problem.status;
  }
  /** A failure worth retrying later: network down, timeout, 503, 429, 5xx. */
  get transient(): boolean {
    const s = this.problem.status;
    return s === 0 || s === 429 || s >= 500;
  }
}

export function networkProblem(detail: string): ProblemError {
  return new ProblemError({ type: "network_error", title: "The network request failed", status: 0, detail });
}

export function problemFrom(status: number, body: unknown, retryAfter: number | null): ProblemError {
  if (body && typeof body === "object" && typeof (body as Problem).type === "string") {
    return new ProblemError(body as Problem, retryAfter);
  }
  return new ProblemError({ type: "http_error", title: "Unexpected answer", status, detail: typeof body === "string" ? body.slice(0, 200) : undefined }, retryAfter);
}
