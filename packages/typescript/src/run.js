// What a tool's handler gets with its arguments: the run's task, a way to report progress, to
// ask the client questions (several at once), to go on as a task, and a signal for a cancel.

/** A question's answer could not be had: the client answered it with an error, or the run ended. */
export class QuestionError extends Error {
  constructor(message, code) {
    super(message);
    this.name = "QuestionError";
    this.code = code;
  }
}

export class RunContext {
  #run;
  #host;
  #controller = new AbortController();
  /** Questions asked and not yet answered, by key: { resolve, reject }. */
  #pending = new Map();
  #asked = 0;

  constructor(run, host) {
    this.#run = run;
    this.#host = host;
  }

  /** The task this run belongs to, or `undefined` for a plain call. */
  get taskId() {
    return this.#run.taskId;
  }

  /** Aborted when the task is cancelled, or the run stopped (e.g. the server closes). */
  get signal() {
    return this.#controller.signal;
  }

  /**
   * Report how far the tool has come: the task's status message, and a
   * `notifications/progress` for a request that asked for progress.
   * @param {{ progress?: number, total?: number, message?: string }} report
   */
  async progress(report) {
    await this.#host.progress({ progress: report.progress, total: report.total, message: report.message });
  }

  /**
   * Ask the client one or more questions at once; resolves with the answers by key. Each question
   * is `{ method, params }`, the method `elicitation/create`, `sampling/createMessage` or
   * `roots/list`; its answer is the client's result (an `ElicitResult`, ...). A task waits in
   * `input_required` until every answer is in. Rejects with a `QuestionError` if a question is
   * answered with an error, or the run ends first.
   * @param {Record<string, { method: string, params?: object }>} questions
   */
  async ask(questions) {
    const entries = Object.entries(questions);
    const answers = entries.map(
      ([key]) => new Promise((resolve, reject) => this.#pending.set(key, { resolve, reject })),
    );
    try {
      await this.#host.ask(
        entries.map(([key, q]) => ({ key, method: q.method, params: JSON.stringify(q.params ?? {}) })),
      );
    } catch (e) {
      for (const [key] of entries) this.#pending.delete(key);
      throw e;
    }
    const values = await Promise.all(answers);
    return Object.fromEntries(entries.map(([key], i) => [key, values[i]]));
  }

  /**
   * Ask the user through the client (`elicitation/create`, form mode); resolves with the
   * `ElicitResult` (`{ action, content }`).
   */
  async elicit(message, requestedSchema) {
    const key = `elicit-${++this.#asked}`;
    const answers = await this.ask({ [key]: { method: "elicitation/create", params: { message, requestedSchema } } });
    return answers[key];
  }

  /** For a tool with `deferTask`: go on as a task (the client gets its `CreateTaskResult`). */
  async detach() {
    await this.#host.detach();
  }

  /** @internal The client's answer to the question `key`; whether anybody waited for it. */
  answer(key, value) {
    const waiting = this.#pending.get(key);
    if (waiting === undefined) return false;
    this.#pending.delete(key);
    if (value && typeof value === "object" && "error" in value && Object.keys(value).length === 1) {
      waiting.reject(new QuestionError(value.error?.message ?? "the question was not answered", value.error?.code));
    } else {
      waiting.resolve(value);
    }
    return true;
  }

  /** @internal Stop the run: its signal aborts, its questions reject. */
  abort(reason) {
    this.#controller.abort(new Error(reason));
    this.end(reason);
  }

  /** @internal The run is over: questions still open reject. */
  end(reason = "the run has ended") {
    for (const { reject } of this.#pending.values()) reject(new QuestionError(reason));
    this.#pending.clear();
  }
}
