// Keeps the code blocks of the repository's README identical to the files they show.
// A block is written as <!-- include: path/from/repo/root.ts --> ```ts ... ``` <!-- end include -->
// (```js for JavaScript files).
// `node check-readme.mjs` fails on any drift; `node check-readme.mjs --write` copies the files in.
import { readFileSync, writeFileSync } from 'node:fs';

const root = new URL('../../', import.meta.url);
const readmeUrl = new URL('README.md', root);
const readme = readFileSync(readmeUrl, 'utf8');
const block = /<!-- include: (\S+) -->\n```(ts|js)\n([\s\S]*?)```\n<!-- end include -->/g;
const write = process.argv.includes('--write');

let count = 0;
const drifted = [];
const updated = readme.replace(block, (whole, path, language, shown) => {
  count++;
  const source = readFileSync(new URL(path, root), 'utf8');
  if (shown === source) return whole;
  drifted.push(path);
  return `<!-- include: ${path} -->\n\`\`\`${language}\n${source}\`\`\`\n<!-- end include -->`;
});

if (count === 0) {
  console.error('README.md has no <!-- include: … --> code blocks');
  process.exit(1);
}
if (write) {
  writeFileSync(readmeUrl, updated);
  console.log(`README.md: ${drifted.length} of ${count} included blocks updated`);
} else if (drifted.length > 0) {
  console.error(
    `README.md differs from ${drifted.join(', ')}: run node ${process.argv[1]} --write`,
  );
  process.exit(1);
} else {
  console.log(`README.md: all ${count} included code blocks match their files`);
}
