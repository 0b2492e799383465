// Keeps the code blocks of README.md and docs/*.md identical to the files they show, so every
// TypeScript and JavaScript example in the documentation is a file that CI type-checks or runs.
//
// A block is written as
//
//   <!-- include: path/from/repo/root.ts -->
//   ```ts
//   …the whole file…
//   ```
//   <!-- end include -->
//
// or, for an excerpt, `<!-- include: path/from/repo/root.ts#name -->`: the lines between
// `// #region name` and its `// #endregion` in that file, without the marker lines of regions
// nested inside it, without blank lines at its start and end, and without their common
// indentation. The block may be indented (inside a list item); its lines then carry that
// indentation. Any language tag works (ts, js, sh, sql, …).
//
// Checked as well: a ts/js block in README.md or docs/*.md that is not an include fails the check,
// and so does an include whose file or region is missing.
//
// `node check-readme.mjs` fails on any drift; `node check-readme.mjs --write` copies the files in.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

const root = new URL('../../', import.meta.url);
const write = process.argv.includes('--write');

/** The Markdown files checked, relative to the repository root. */
const documents = [
  'README.md',
  ...readdirSync(new URL('docs/', root))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`),
];

/** Languages whose blocks must come from a file. */
const codeLanguages = new Set(['ts', 'typescript', 'tsx', 'js', 'javascript', 'mjs', 'cjs']);

const includeBlock =
  /^( *)<!-- include: (\S+?) -->\n\1```(\w*)\n([\s\S]*?)^\1```\n\1<!-- end include -->$/gm;

/** The lines of `source` inside `// #region name` … its `// #endregion`, dedented. */
function region(source, name, where) {
  const lines = source.split('\n');
  const marker = /^\s*\/\/ #(region|endregion)\b ?(.*)$/;
  const start = lines.findIndex((line) => {
    const match = marker.exec(line);
    return match?.[1] === 'region' && match[2].trim() === name;
  });
  if (start === -1) throw new Error(`${where}: no "// #region ${name}"`);
  const body = [];
  let depth = 1;
  for (const line of lines.slice(start + 1)) {
    const match = marker.exec(line);
    if (match?.[1] === 'region') {
      depth++;
      continue;
    }
    if (match?.[1] === 'endregion' && --depth === 0) break;
    if (match) continue;
    body.push(line);
  }
  if (depth !== 0) throw new Error(`${where}: "// #region ${name}" has no "// #endregion"`);
  while (body.length > 0 && body[0].trim() === '') body.shift();
  while (body.length > 0 && body.at(-1).trim() === '') body.pop();
  if (body.length === 0) throw new Error(`${where}: "// #region ${name}" is empty`);
  const indent = Math.min(
    ...body.filter((line) => line.trim() !== '').map((line) => /^ */.exec(line)[0].length),
  );
  return `${body.map((line) => line.slice(Number.isFinite(indent) ? indent : 0)).join('\n')}\n`;
}

/** What an include of `target` (`path` or `path#region`) shows. */
function included(target, where) {
  const [path, name] = target.split('#');
  let source;
  try {
    source = readFileSync(new URL(path, root), 'utf8');
  } catch {
    throw new Error(`${where}: cannot read ${path}`);
  }
  return name === undefined ? source : region(source, name, `${where}: ${path}`);
}

/** `text` with every non-empty line indented by `indent`. */
function indented(text, indent) {
  if (indent === '') return text;
  return text.replace(/^(?=.)/gm, indent);
}

const problems = [];
let blocks = 0;
let updatedBlocks = 0;

for (const document of documents) {
  const url = new URL(document, root);
  const text = readFileSync(url, 'utf8');
  let changed = false;
  const updated = text.replace(includeBlock, (whole, indent, target, language, shown, offset) => {
    blocks++;
    const where = `${document}:${text.slice(0, offset).split('\n').length}`;
    let source;
    try {
      source = indented(included(target, where), indent);
    } catch (error) {
      problems.push(error.message);
      return whole;
    }
    if (shown === source) return whole;
    changed = true;
    updatedBlocks++;
    if (!write) problems.push(`${where}: the block differs from ${target}`);
    return `${indent}<!-- include: ${target} -->\n${indent}\`\`\`${language}\n${source}${indent}\`\`\`\n${indent}<!-- end include -->`;
  });

  // Code blocks that are not includes.
  const outside = text.replace(includeBlock, (whole) => whole.replace(/[^\n]/g, ' '));
  const fence = /^ *```(\w*)/gm;
  let open = false;
  for (const match of outside.matchAll(fence)) {
    open = !open;
    if (!open) continue;
    const language = match[1].toLowerCase();
    if (!codeLanguages.has(language)) continue;
    const where = `${document}:${outside.slice(0, match.index).split('\n').length}`;
    const message = `${where}: a \`\`\`${language} block that is not an <!-- include: … -->`;
    problems.push(message);
  }

  if (write && changed) writeFileSync(url, updated);
}

// The README's package table shows each package's version from its package.json
// (`pnpm version-packages` runs `changeset version` and then this with --write).
{
  const url = new URL('README.md', root);
  const text = readFileSync(url, 'utf8');
  const row = /^\| \[`(@pup\/[\w-]+)`\]\(packages\/([\w-]+)\) \| `([^`|]*)` \|/gm;
  let rows = 0;
  const updated = text.replace(row, (whole, name, folder, shown) => {
    rows++;
    const manifest = JSON.parse(
      readFileSync(new URL(`packages/${folder}/package.json`, root), 'utf8'),
    );
    if (manifest.name !== name)
      problems.push(`README.md: the row of ${name} links packages/${folder}`);
    if (shown === manifest.version) return whole;
    if (!write)
      problems.push(`README.md: ${name} is ${manifest.version}, the package table says ${shown}`);
    return whole.replace(`\`${shown}\``, `\`${manifest.version}\``);
  });
  if (rows === 0)
    problems.push('README.md: no package table rows (| [`@pup/…`](packages/…) | `version` |)');
  if (write && updated !== text) writeFileSync(url, updated);
}

if (write) {
  console.log(`${updatedBlocks} of ${blocks} included blocks updated in ${documents.length} files`);
}
if (problems.length > 0) {
  for (const problem of problems) console.error(problem);
  if (!write && updatedBlocks > 0) console.error(`run: node ${process.argv[1]} --write`);
  process.exit(1);
}
if (!write) {
  console.log(`all ${blocks} included code blocks of ${documents.length} files match their files`);
}
