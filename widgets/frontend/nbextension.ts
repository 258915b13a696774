// The classic Notebook 6 host: an HTMLManager wired to the notebook's kernel through the classic comm API,
// and a renderer for widget-view outputs. The AMD wrapper (widgets/build/bundle.ts) passes in the
// notebook's `Jupyter` namespace and OutputArea, and exposes `load_ipython_extension`.
import type { DOMWidgetView, IClassicComm } from "@jupyter-widgets/base";
import { HTMLManager } from "@jupyter-widgets/html-manager";
import { MODULE_NAME } from "../shared/widgetStates";
import * as widgets from "./index";

const WIDGET_TARGET = "jupyter.widget";
const VIEW_MIME = "application/vnd.jupyter.widget-view+json";

/** The parts of notebook 6's kernel object this host uses. */
interface ClassicKernel {
  comm_manager: {
    register_target(name: string, f: (comm: IClassicComm, msg: unknown) => unknown): void;
    new_comm(
      target: string,
      data: unknown,
      callbacks: unknown,
      metadata: unknown,
      commId: string | undefined,
      buffers: unknown,
    ): IClassicComm;
  };
  comm_info(target: string, callback: (msg: { content: { comms: Record<string, unknown> } }) => void): void;
}

/** The parts of notebook 6's `Jupyter` namespace this host uses. */
interface ClassicJupyter {
  notebook?: { kernel?: ClassicKernel | null; events: { on(event: string, f: () => void): void } };
}

/** The parts of notebook 6's OutputArea class this host uses. */
interface ClassicOutputArea {
  prototype: {
    register_mime_type(
      mime: string,
      append: (this: OutputAreaThis, data: { model_id?: string }, md: unknown, element: JQueryLike) => unknown,
      options: { safe: boolean; index: number },
    ): void;
  };
}
interface JQueryLike {
  append(node: unknown): unknown;
}
interface OutputAreaThis {
  create_output_subarea(md: unknown, cls: string, mime: string): JQueryLike & { [0]: HTMLElement };
  keyboard_manager: { register_events(el: unknown): void };
}

/** A widget manager talking to one classic-notebook kernel. */
class ClassicManager extends HTMLManager {
  constructor(readonly kernel: ClassicKernel) {
    // Our module is bundled in; the base/controls/output modules come from html-manager itself.
    super({ loader: async (name) => (name === MODULE_NAME ? widgets : Promise.reject(new Error(`no widget module ${name}`))) });
    kernel.comm_manager.register_target(WIDGET_TARGET, (comm, msg) => this.handle_comm_open(comm, msg as never));
  }

  async _create_comm(
    target: string,
    modelId?: string,
    data?: unknown,
    metadata?: unknown,
    buffers?: ArrayBuffer[] | ArrayBufferView[],
  ): Promise<IClassicComm> {
    return this.kernel.comm_manager.new_comm(target, data ?? {}, {}, metadata ?? {}, modelId, buffers);
  }

  _get_comm_info(): Promise<Record<string, unknown>> {
    return new Promise((resolve) => this.kernel.comm_info(WIDGET_TARGET, (msg) => resolve(msg.content.comms)));
  }
}

let manager: ClassicManager | undefined;

// A restart keeps notebook 6's Kernel object but the kernel forgets every comm: drop the old models, and
// make a manager for whatever kernel the notebook has now (a new one after a kernel change).
function attach(jupyter: ClassicJupyter): void {
  const kernel = jupyter.notebook?.kernel;
  if (!kernel) return;
  if (manager?.kernel === kernel) return;
  void manager?.clear_state();
  manager = new ClassicManager(kernel);
}

// Comm opens and display_data are separate messages; if a view's display arrives first, wait for its model.
async function modelFor(id: string): Promise<Awaited<ReturnType<HTMLManager["get_model"]>>> {
  for (let i = 0; i < 50 && !manager?.has_model(id); i++) await new Promise((r) => setTimeout(r, 100));
  if (!manager) throw new Error("no widget manager: the notebook has no kernel");
  if (!manager.has_model(id))
    throw new Error(
      "its model is not in the running kernel (it was restarted, or this output is from an earlier session): run the cell again",
    );
  return manager.get_model(id);
}

async function renderView(data: { model_id?: string }, node: HTMLElement): Promise<void> {
  try {
    if (!data.model_id) {
      node.style.display = "none";
      return;
    }
    const model = await modelFor(data.model_id);
    const view = (await manager!.create_view(model)) as DOMWidgetView;
    await manager!.display_view(view, node);
  } catch (err) {
    node.textContent = `Error displaying widget: ${(err as Error).message ?? err}`;
  }
}

/** Install the widget manager for the notebook's kernel and the widget-view output renderer. */
export function load(jupyter: ClassicJupyter, outputArea: ClassicOutputArea): void {
  attach(jupyter);
  const events = jupyter.notebook?.events;
  events?.on("kernel_created.Kernel", () => attach(jupyter));
  events?.on("kernel_restarting.Kernel", () => {
    void manager?.clear_state();
  });
  events?.on("kernel_ready.Kernel", () => attach(jupyter));
  outputArea.prototype.register_mime_type(
    VIEW_MIME,
    function (data, md, element) {
      const subarea = this.create_output_subarea(md, "output_fatezero_widget", VIEW_MIME);
      this.keyboard_manager.register_events(subarea);
      void renderView(data, subarea[0]);
      element.append(subarea);
      return subarea;
    },
    { safe: true, index: 0 },
  );
}
