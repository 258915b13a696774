// The live widget models of one kernel (one CommManager), and the `jupyter.widget.control` target through
// which a frontend that (re)connects fetches all their states in one message.
import type { Comm, CommManager } from "../../kernel/commTypes";
import { removeBuffers } from "./bufferPaths";
import { CONTROL_TARGET, WIDGET_TARGET, type ControlModelState } from "./protocol";

/** What the registry needs from a model. */
export interface LiveModel {
  readonly modelId: string;
  /** The model's full state as the control protocol lists it (binary values left in place). */
  controlState(): ControlModelState;
}

/** Called when the frontend opens a `jupyter.widget` comm (a model created on the frontend side). */
export type AdoptFrontendModel = (comms: CommManager, comm: Comm, data: Record<string, unknown>, buffers: DataView[]) => void;

/** The live models of one CommManager. */
export class WidgetRegistry {
  private readonly models = new Map<string, LiveModel>();

  constructor(comms: CommManager, adopt: AdoptFrontendModel) {
    comms.registerTarget(WIDGET_TARGET, (comm, data, buffers) => adopt(comms, comm, data, buffers));
    comms.registerTarget(CONTROL_TARGET, (comm) => comm.onMsg((data) => this.handleControl(comm, data)));
  }

  /** Track a model from its comm_open until its comm closes. */
  add(model: LiveModel): void {
    this.models.set(model.modelId, model);
  }

  /** Forget a closed model. */
  remove(modelId: string): void {
    this.models.delete(modelId);
  }

  /** The live model with this id, if any. */
  get(modelId: string): LiveModel | undefined {
    return this.models.get(modelId);
  }

  private handleControl(comm: Comm, data: Record<string, unknown>): void {
    if (data.method !== "request_states") {
      console.error(`jupyter.widget.control: unknown method ${JSON.stringify(data.method)}`);
      return;
    }
    // No prototype: a model id is the frontend's comm id, and "__proto__" must stay a key.
    const states: Record<string, ControlModelState> = Object.create(null);
    for (const [id, model] of this.models) states[id] = model.controlState();
    // Paths start with the model id, then "state": the frontend splits them per model that way.
    const split = removeBuffers(states);
    comm.send({ method: "update_states", states: split.state, buffer_paths: split.bufferPaths }, {}, split.buffers);
  }
}

const registries = new WeakMap<CommManager, WidgetRegistry>();

/** The registry of `comms`, registering its comm targets the first time. */
export function widgetRegistry(comms: CommManager, adopt: AdoptFrontendModel): WidgetRegistry {
  let registry = registries.get(comms);
  if (!registry) {
    registry = new WidgetRegistry(comms, adopt);
    registries.set(comms, registry);
  }
  return registry;
}
