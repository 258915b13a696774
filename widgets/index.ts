// What cells get from `import … from "fatezero/widgets"`.
export * from "./comm";
export * from "./kernelSide";
export * from "./shared/widgetStates";
export * from "./charts";
export * from "./figures";
