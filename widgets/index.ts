// What cells get from `import … from "fatezero/widgets"`.
export * from "./kernel";
