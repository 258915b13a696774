// What cells get from `import … from "fatezero/widgets"`.
export * from "./kernel";
export * from "./models";
export * from "./shared/widgetStates";
export * from "./charts";
export * from "./figures";
