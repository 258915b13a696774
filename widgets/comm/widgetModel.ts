// The kernel side of a Jupyter widget model (protocol 2.1): its state lives here, is opened on the frontend
// with comm_open, kept in sync with `update` / `echo_update`, and carries `custom` messages both ways.
import { z } from "zod";
import type { Buffers, Comm, CommManager } from "../../kernel/commTypes";
import { display, MIME_BUNDLE, type DisplayHandle, type DisplayOptions, type MimeBundle } from "../../kernel/kernelContext";
import { putBuffers, removeBuffers, type BufferPath } from "./bufferPaths";
import { defaultCommManager } from "./defaultComms";
import {
  BASE_IDENTITY,
  PROTOCOL_VERSION,
  WIDGET_TARGET,
  WIDGET_VIEW_MIME,
  type ControlModelState,
  type ModelIdentity,
  type WidgetState,
  type WidgetViewData,
} from "./protocol";
import { sameValue } from "./sameValue";
import { widgetRegistry, type WidgetRegistry } from "./widgetRegistry";

/** Who changed a value: code in the kernel, or a frontend's `update` message. */
export type ChangeSource = "kernel" | "frontend";
/** Called after a key changed. */
export type ChangeListener<V> = (value: V, old: V, source: ChangeSource) => void;
/**
 * Called for each `custom` message from the frontend; buffers arrive as DataViews. A returned promise keeps the
 * kernel busy (the frontend's indicator) until it settles.
 */
export type CustomListener = (content: unknown, buffers: DataView[]) => unknown;

/**
 * The keys a view may set and what each accepts, given the model's current state (a view's update is the
 * user's input): other keys are the kernel's alone. Without it every key is settable (a model a frontend opened).
 */
export type FrontendKeys<S> = (state: S) => { [K in keyof S]?: z.ZodType<S[K]> };

/** A schema for an index into `count` items: an integer in 0 … count − 1. */
export function indexBelow(count: number): z.ZodNumber {
  return z
    .number()
    .int()
    .min(0)
    .max(count - 1);
}

/** How a model connects to the frontend. */
export interface WidgetModelOptions {
  /** The kernel's comm manager; by default the running FateZero kernel's. */
  comms?: CommManager;
  /** The model id (= comm id) to open with; random by default. */
  modelId?: string;
  /** Echo frontend updates back as `echo_update`; default: on unless JUPYTER_WIDGETS_ECHO is a false value. */
  echo?: boolean;
  /** Keys never echoed (large or high-rate values the frontend does not need back). */
  noEcho?: Iterable<string>;
  /** A comm the frontend opened for this model, adopted instead of opening one. */
  comm?: Comm;
}

/** Options of a model with its own state type: which keys its views may set. */
export interface TypedWidgetModelOptions<S extends WidgetState> extends WidgetModelOptions {
  frontendKeys?: FrontendKeys<FullState<S>>;
}

/** The state of a model: its own keys plus the six identity keys. */
export type FullState<S extends WidgetState> = S & ModelIdentity;

// ipywidgets' switch: echo is on in ipywidgets 8 unless the variable says otherwise.
function echoFromEnv(): boolean {
  const v = process.env.JUPYTER_WIDGETS_ECHO;
  return v === undefined || !["no", "n", "false", "off", "0", "0.0"].includes(v.toLowerCase());
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A widget model whose state is synced with every frontend showing it. */
export class WidgetModel<S extends WidgetState = WidgetState> {
  /** The model id, which is also the comm id and the `model_id` of its views. */
  readonly modelId: string;
  private readonly comm: Comm;
  private readonly registry: WidgetRegistry;
  private readonly values: WidgetState;
  private readonly echo: boolean;
  private readonly noEcho: Set<string>;
  private readonly frontendKeys: FrontendKeys<FullState<S>> | undefined;
  private readonly changeListeners = new Map<string, Set<ChangeListener<unknown>>>();
  private readonly customListeners = new Set<CustomListener>();
  private readonly closeListeners = new Set<() => void>();
  private isClosed = false;

  /** Open the model on the frontend with `state` (identity keys default to @jupyter-widgets/base's WidgetModel). */
  constructor(state: S & Partial<ModelIdentity>, options: TypedWidgetModelOptions<S> = {}) {
    const comms = options.comms ?? defaultCommManager();
    this.registry = widgetRegistry(comms, adoptFrontendModel);
    // No prototype: keys from the wire ("__proto__", "constructor") are plain own keys, never inherited members.
    this.values = Object.assign(Object.create(null) as WidgetState, BASE_IDENTITY, state);
    this.echo = options.echo ?? echoFromEnv();
    this.noEcho = new Set(options.noEcho ?? []);
    this.frontendKeys = options.frontendKeys;
    if (options.comm) {
      this.comm = options.comm;
    } else {
      const split = removeBuffers(this.values);
      const data = { state: split.state, buffer_paths: split.bufferPaths };
      this.comm = comms.open(WIDGET_TARGET, data, { version: PROTOCOL_VERSION }, split.buffers, options.modelId);
    }
    this.modelId = this.comm.commId;
    this.comm.onMsg((data, buffers) => this.handleMsg(data, buffers));
    this.comm.onClose(() => this.markClosed());
    this.registry.add(this);
  }

  /** The live model with this id in the kernel of `comms` (default: the kernel's), if any. */
  static byId(modelId: string, comms: CommManager = defaultCommManager()): WidgetModel | undefined {
    const model = widgetRegistry(comms, adoptFrontendModel).get(modelId);
    return model instanceof WidgetModel ? model : undefined;
  }

  /** True once the model was closed by either side. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** The current value of `key`. */
  get<K extends keyof FullState<S> & string>(key: K): FullState<S>[K] {
    return this.values[key] as FullState<S>[K];
  }

  /** A shallow copy of the whole state. */
  state(): FullState<S> {
    return { ...this.values } as FullState<S>;
  }

  /** Set one key; the frontend gets an `update` if the value changed. */
  set<K extends keyof S & string>(key: K, value: S[K]): void {
    this.update({ [key]: value } as unknown as Partial<S>);
  }

  /** Set several keys in one `update` message (only those whose value changed), then call their listeners. */
  update(changes: Partial<S>): void {
    const changed = this.store(changes as WidgetState);
    if (changed.length === 0) return;
    if (!this.isClosed) this.sendState("update", Object.fromEntries(changed.map(([key]) => [key, this.values[key]])));
    this.notify(changed, "kernel");
  }

  /** Call `listener` after every change of `key` (from either side); returns a function that removes it. */
  onChange<K extends keyof FullState<S> & string>(key: K, listener: ChangeListener<FullState<S>[K]>): () => void {
    const set = this.changeListeners.get(key) ?? new Set();
    this.changeListeners.set(key, set);
    const entry = listener as ChangeListener<unknown>;
    set.add(entry);
    return () => set.delete(entry);
  }

  /** Send a `custom` message (any JSON content) with optional binary buffers. */
  send(content: unknown, buffers: Buffers = []): void {
    if (this.isClosed) throw new Error(`widget ${this.modelId} is closed`);
    this.comm.send({ method: "custom", content }, undefined, buffers);
  }

  /** Call `listener` for each `custom` message from the frontend; returns a function that removes it. */
  onCustom(listener: CustomListener): () => void {
    this.customListeners.add(listener);
    return () => this.customListeners.delete(listener);
  }

  /** Call `listener` once when the model closes (either side). */
  onClose(listener: () => void): void {
    this.closeListeners.add(listener);
  }

  /** Close the comm: the frontend removes the model and its views. */
  close(): void {
    if (this.isClosed) return;
    this.comm.close();
    this.markClosed();
  }

  /** A mime bundle that shows a view of this model (text/plain for frontends without widgets). */
  displayData(): MimeBundle {
    const view: WidgetViewData = { version_major: 2, version_minor: 1, model_id: this.modelId };
    return { [WIDGET_VIEW_MIME]: view, "text/plain": `${this.values._model_name}(model_id='${this.modelId}')` };
  }

  /** What the kernel shows when a cell's last expression is this model: a view of it. */
  [MIME_BUNDLE](): MimeBundle {
    return this.displayData();
  }

  /** Show a view of this model in the running cell's output (display_data). */
  display(options?: DisplayOptions): DisplayHandle {
    return display(this.displayData(), options);
  }

  /** The full state in the control protocol's per-model layout (for `update_states`). */
  controlState(): ControlModelState {
    return {
      model_name: String(this.values._model_name),
      model_module: String(this.values._model_module),
      model_module_version: String(this.values._model_module_version),
      state: this.state(),
    };
  }

  private markClosed(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.registry.remove(this.modelId);
    for (const listener of this.closeListeners) listener();
    this.closeListeners.clear();
  }

  private store(changes: WidgetState): [string, unknown][] {
    const changed: [string, unknown][] = [];
    for (const [key, value] of Object.entries(changes)) {
      const old = this.values[key];
      if (sameValue(old, value)) continue;
      this.values[key] = value;
      changed.push([key, old]);
    }
    return changed;
  }

  private sendState(method: "update" | "echo_update", state: WidgetState): void {
    const split = removeBuffers(state);
    this.comm.send({ method, state: split.state, buffer_paths: split.bufferPaths }, undefined, split.buffers);
  }

  // Listeners of a kernel change throw into the code that made it; a frontend change has no caller to
  // report to, so its listeners' errors are logged and the other listeners still run.
  private notify(changed: [string, unknown][], source: ChangeSource): void {
    for (const [key, old] of changed) {
      for (const listener of this.changeListeners.get(key) ?? []) {
        if (source === "kernel") {
          listener(this.values[key], old, source);
          continue;
        }
        try {
          listener(this.values[key], old, source);
        } catch (err) {
          console.error(`widget ${this.modelId}: change listener for ${key} failed:`, err);
        }
      }
    }
  }

  private async handleMsg(data: Record<string, unknown>, buffers: DataView[]): Promise<void> {
    const work: Promise<unknown>[] = [];
    switch (data.method) {
      case "update":
        this.applyFrontendState(data, buffers);
        break;
      case "request_state":
        this.sendState("update", this.values);
        break;
      case "custom":
        for (const listener of this.customListeners) {
          const failed = (err: unknown) => console.error(`widget ${this.modelId}: custom message listener failed:`, err);
          try {
            const result = listener(data.content, buffers);
            if (result instanceof Promise) work.push(result.catch(failed));
          } catch (err) {
            failed(err);
          }
        }
        break;
      default:
        console.error(`widget ${this.modelId}: unknown method ${JSON.stringify(data.method)} from the frontend`);
    }
    await Promise.all(work);
  }

  private applyFrontendState(data: Record<string, unknown>, buffers: DataView[]): void {
    const state = data.state;
    const paths = data.buffer_paths ?? [];
    if (!isRecord(state) || !Array.isArray(paths)) {
      console.error(`widget ${this.modelId}: malformed update (state must be an object, buffer_paths a list)`);
      return;
    }
    try {
      putBuffers(state, paths as BufferPath[], buffers);
    } catch (err) {
      console.error(`widget ${this.modelId}: malformed update:`, err);
      return;
    }
    const { accepted, refused } = this.checkFrontendState(state);
    // Echo before applying, as ipywidgets does: listeners that adjust a value then send their own `update`
    // after the echo, so every frontend ends on the kernel's value.
    if (this.echo) {
      const echoed = Object.fromEntries(Object.entries(accepted).filter(([key]) => !this.noEcho.has(key)));
      if (Object.keys(echoed).length > 0) this.sendState("echo_update", echoed);
    }
    // A refused value is not stored: the views get the kernel's value back (a key the model lacks has none).
    const restore = refused.filter((key) => Object.hasOwn(this.values, key));
    if (restore.length > 0) this.sendState("update", Object.fromEntries(restore.map((key) => [key, this.values[key]])));
    this.notify(this.store(accepted), "frontend");
  }

  /** The keys of a frontend update this model accepts (as parsed), and those it refuses (logged with why). */
  private checkFrontendState(state: WidgetState): { accepted: WidgetState; refused: string[] } {
    if (!this.frontendKeys) return { accepted: state, refused: [] };
    const schemas: Record<string, z.ZodType | undefined> = this.frontendKeys(this.values as FullState<S>);
    const accepted: WidgetState = {};
    const refused: string[] = [];
    for (const [key, value] of Object.entries(state)) {
      // Own keys only: "constructor" or "toString" must not find Object.prototype's members.
      const result = Object.hasOwn(schemas, key) ? schemas[key]?.safeParse(value) : undefined;
      if (result?.success) {
        accepted[key] = result.data;
        continue;
      }
      refused.push(key);
      const why = result ? result.error.issues.map((i) => i.message).join("; ") : "only the kernel sets it";
      console.error(`widget ${this.modelId}: refused ${key} = ${JSON.stringify(value)?.slice(0, 100)} from the frontend: ${why}`);
    }
    return { accepted, refused };
  }
}

/** Wrap a comm the frontend opened on `jupyter.widget` in a model with the state it sent. */
function adoptFrontendModel(comms: CommManager, comm: Comm, data: Record<string, unknown>, buffers: DataView[]): void {
  const state = isRecord(data.state) ? data.state : {};
  const paths = Array.isArray(data.buffer_paths) ? (data.buffer_paths as BufferPath[]) : [];
  try {
    putBuffers(state, paths, buffers);
  } catch (err) {
    console.error(`widget ${comm.commId}: malformed comm_open:`, err);
    comm.close();
    return;
  }
  new WidgetModel(state, { comms, comm });
}

/** Register the `jupyter.widget` and `jupyter.widget.control` targets on `comms` (the kernel calls this at start-up). */
export function installWidgets(comms: CommManager): void {
  widgetRegistry(comms, adoptFrontendModel);
}
