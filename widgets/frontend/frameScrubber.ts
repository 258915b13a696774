// FrameScrubber: labelled clips side by side with one frame slider, play/pause, step buttons and fps.
// Playback runs here, not in the kernel: a kernel round trip per frame would stutter, so `frame` advances
// locally and is saved when playback pauses or the user moves the slider.
import { DOMWidgetModel, DOMWidgetView } from "@jupyter-widgets/base";
import { WIDGETS, type ScrubberRow, widgetIdentity } from "../shared/widgetStates";
import { bumpVersion, FrameUrls, h, rangeInput } from "./dom";
import { injectStyle } from "./style";

/** A playback rate of 1…60 frames per second (1 for anything unreadable). */
function clampFps(value: unknown): number {
  return Math.min(Math.max(Number(value) || 1, 1), 60);
}

export class FrameScrubberModel extends DOMWidgetModel {
  // The state, defaults included, comes from the kernel-side model; only the identity is known here.
  defaults() {
    return { ...super.defaults(), ...widgetIdentity(WIDGETS.frameScrubber) };
  }
}

export class FrameScrubberView extends DOMWidgetView {
  private title = h("div", { cls: "fz-title" });
  private frames = h("div", { cls: "fz-frames" });
  private slider = rangeInput("fz-frame-slider", 0, 0, 1);
  private counter = h("span", { cls: "fz-muted" });
  private play = h("button", { testid: "fz-play", text: "▶" });
  private back = h("button", { testid: "fz-step-back", text: "«" });
  private forward = h("button", { testid: "fz-step-forward", text: "»" });
  private fps = h("input", { testid: "fz-fps" });
  private urls: FrameUrls[] = [];
  private images: HTMLImageElement[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;

  render(): void {
    injectStyle();
    this.el.classList.add("fz-widget");
    this.el.dataset.testid = "fz-scrubber";
    this.fps.type = "number";
    this.fps.min = "1";
    this.fps.max = "60";
    this.play.title = "play / pause";
    this.back.title = "previous frame";
    this.forward.title = "next frame";
    const fpsLabel = h("label", { cls: "fz-muted", text: "fps " }, this.fps);
    this.el.append(
      this.title,
      this.frames,
      h("div", { cls: "fz-row" }, this.back, this.play, this.forward, this.slider, this.counter, fpsLabel),
    );

    this.slider.addEventListener("input", () => this.seek(Number(this.slider.value)));
    this.back.addEventListener("click", () => this.seek(this.frame() - 1));
    this.forward.addEventListener("click", () => this.seek(this.frame() + 1));
    this.play.addEventListener("click", () => this.setPlaying(!this.model.get("playing")));
    this.fps.addEventListener("change", () => {
      this.model.set("fps", clampFps(this.fps.value));
      this.model.save_changes();
    });

    this.listenTo(this.model, "change:title", () => this.updateTitle());
    this.listenTo(this.model, "change:rows", () => this.buildRows());
    this.listenTo(this.model, "change:frame change:frame_count", () => this.showFrame());
    this.listenTo(this.model, "change:playing change:fps", () => this.updatePlayback());
    this.updateTitle();
    this.buildRows();
    this.updatePlayback();
  }

  remove(): void {
    this.stopTimer();
    this.urls.forEach((u) => u.revoke());
    return super.remove();
  }

  private frame(): number {
    return Number(this.model.get("frame")) || 0;
  }

  private frameCount(): number {
    return Math.max(1, Number(this.model.get("frame_count")) || 1);
  }

  // A user's seek stops playback and reaches the kernel at once.
  private seek(frame: number): void {
    const count = this.frameCount();
    this.model.set({ frame: ((frame % count) + count) % count, playing: false });
    this.model.save_changes();
  }

  private setPlaying(playing: boolean): void {
    this.model.set("playing", playing);
    this.model.save_changes();
  }

  private updateTitle(): void {
    this.title.textContent = String(this.model.get("title") ?? "");
    this.title.hidden = this.title.textContent === "";
  }

  private buildRows(): void {
    this.urls.forEach((u) => u.revoke());
    const rows = (this.model.get("rows") ?? []) as ScrubberRow[];
    this.urls = rows.map((row) => {
      const urls = new FrameUrls();
      urls.reset(row.clip);
      return urls;
    });
    this.images = rows.map((row, i) => {
      const img = h("img", { testid: `fz-row-${i}` });
      img.alt = row.label;
      if (row.clip?.width) img.width = row.clip.width;
      if (row.clip?.height) img.height = row.clip.height;
      return img;
    });
    this.frames.replaceChildren(
      ...rows.map((row, i) => h("figure", {}, this.images[i], h("figcaption", { testid: `fz-row-label-${i}`, text: row.label }))),
    );
    this.showFrame();
  }

  private showFrame(): void {
    const frame = Math.min(this.frame(), this.frameCount() - 1);
    this.slider.max = String(this.frameCount() - 1);
    this.slider.value = String(frame);
    this.counter.textContent = `${frame + 1} / ${this.frameCount()}`;
    this.images.forEach((img, i) => {
      img.src = this.urls[i].url(frame);
      bumpVersion(img);
    });
  }

  private updatePlayback(): void {
    const playing = Boolean(this.model.get("playing"));
    this.fps.value = String(this.model.get("fps"));
    this.play.textContent = playing ? "❚❚" : "▶";
    this.play.setAttribute("aria-pressed", String(playing));
    this.stopTimer();
    if (!playing) return;
    const fps = clampFps(this.model.get("fps"));
    // Local sets only: the kernel hears the frame when playback stops.
    this.timer = setInterval(() => this.model.set("frame", (this.frame() + 1) % this.frameCount()), 1000 / fps);
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
