// The three vehicles, seen from behind, in their own frame: x ∈ [−1, 1] across, y up from the ground, in
// units of the vehicle's half width. Each returns the part at (x, y), or undefined off the vehicle. The car
// is the sample clip's; the truck is a tall box van, the bus a tall coach with a wide rear window.
import type { VehiclePalette, Rgb } from "./palette";
import type { VehicleKind } from "./vocabulary";

type Part = keyof VehiclePalette;

function dist2(dx: number, dy: number): number {
  return dx * dx + dy * dy;
}

function carPart(x: number, y: number): Part | undefined {
  const ax = Math.abs(x);
  if (y < 0 || y > 1.15 || ax > 1) return undefined;
  if (y >= 0.7) {
    const cabinHalf = 0.85 - (y - 0.7) * 0.5;
    if (ax > cabinHalf) return undefined;
    const glassHalf = 0.72 - (y - 0.76) * 0.5;
    return y > 0.76 && y < 1.08 && ax < glassHalf ? "glass" : "cabin";
  }
  if (y < 0.15) return ax > 0.6 && ax < 0.95 ? "tyre" : undefined;
  // Rounded lower corners of the body.
  if (y < 0.27 && ax > 0.88 && dist2(ax - 0.88, y - 0.27) > 0.12 * 0.12) return ax > 0.6 && ax < 0.95 ? "tyre" : undefined;
  if (y > 0.48 && y < 0.6 && ax > 0.62 && ax < 0.92) return "lamp";
  if (y > 0.28 && y < 0.42 && ax < 0.22) return "plate";
  return "body";
}

function truckPart(x: number, y: number): Part | undefined {
  const ax = Math.abs(x);
  if (y < 0 || y > 1.75 || ax > 1) return undefined;
  if (y < 0.18) return ax > 0.5 && ax < 0.95 ? "tyre" : undefined;
  if (y < 0.27) return ax < 0.97 ? "trim" : undefined; // bumper
  if (y > 0.3 && y < 0.44 && ax > 0.72 && ax < 0.94) return "lamp";
  if (y > 0.3 && y < 0.42 && ax < 0.2) return "plate";
  // The cargo box's two rear doors, split down the middle, with a darker frame.
  if (ax < 0.025 && y > 0.5) return "cabin";
  if (y > 1.68 || ax > 0.94) return "cabin";
  return "body";
}

function busPart(x: number, y: number): Part | undefined {
  const ax = Math.abs(x);
  if (y < 0 || y > 1.6 || ax > 1) return undefined;
  // Rounded roof corners.
  if (y > 1.45 && ax > 0.85 && dist2(ax - 0.85, y - 1.45) > 0.15 * 0.15) return undefined;
  if (y < 0.16) return ax > 0.55 && ax < 0.92 ? "tyre" : undefined;
  if (y > 1.02 && y < 1.45 && ax < 0.82) return "glass";
  if (y > 0.8 && y < 0.9) return "trim";
  if (y > 0.36 && y < 0.52 && ax > 0.7 && ax < 0.92) return "lamp";
  if (y > 0.26 && y < 0.38 && ax < 0.2) return "plate";
  return "body";
}

const PARTS: Record<VehicleKind, (x: number, y: number) => Part | undefined> = { car: carPart, truck: truckPart, bus: busPart };

/** The colour of `kind` at (x, y) in its own frame, or undefined off the vehicle. */
export function vehicleColour(kind: VehicleKind, palette: VehiclePalette, x: number, y: number): Rgb | undefined {
  const part = PARTS[kind](x, y);
  return part && palette[part];
}

/** The vehicle's height in half widths (for the bounds of the drawing). */
export const VEHICLE_HEIGHT: Record<VehicleKind, number> = { car: 1.15, truck: 1.75, bus: 1.6 };
