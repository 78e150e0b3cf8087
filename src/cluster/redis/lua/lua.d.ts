/** Lua scripts are imported as text (`import x from './x.lua' with { type: 'text' }`; see scripts.ts). */
declare module '*.lua' {
  const text: string;
  export default text;
}
