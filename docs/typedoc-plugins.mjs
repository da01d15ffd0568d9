// Local TypeDoc plugin for the API reference:
//
// 1. Names each module after its npm package (`@brickml/core`), read from the package.json next to
//    the entry point's `src/` folder.
// 2. Names destructured parameters. TypeDoc calls `{ rng }: BrickOptions = {}` `__namedParameters`;
//    they are renamed `options` (the name the sources use for such a parameter elsewhere), and the
//    defaults of the destructured fields (`rng = globalRng()`) are shown.
// 3. Renders zod-inferred configs with their fields and defaults. A brick's config type is
//    `z.input<typeof Schema>` (or `z.output` / `z.infer`), which TypeDoc shows as that expression,
//    and whose fields' defaults it shows as `...` (the `.default(…)` call it cannot print). Here:
//    - a type alias of such a type gets a "Fields" table: field, type, default, description;
//    - a field of such a type anywhere else (a brick's `config` property, a constructor's `config`
//      parameter) gets its default from the schema's `.default(…)` (or none instead of `...`); in
//      a parameter table, which has no default column for nested fields, it is added to the
//      field's description.
// 4. Shows other defaults TypeDoc abbreviates as `...` (`new Map()`) by their source when short.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import ts from 'typescript';
import { Comment, Converter, ParameterReflection, ReflectionKind } from 'typedoc';

/** Methods that build a zod object schema from an object literal of fields. */
const ZOD_OBJECT_BUILDERS = new Set([
  'object',
  'strictObject',
  'looseObject',
  'extend',
  'safeExtend',
  'merge',
]);
/** Zod type-level helpers that give a schema's input / output type. */
const ZOD_TYPE_HELPERS = new Set([
  'input',
  'output',
  'infer',
  'TypeOf',
  'Infer',
  'Input',
  'Output',
]);

/** One-line source text of an expression (a default value). */
function exprText(node) {
  // `.default(() => [0.35, 0.75])`: the value the function returns.
  if (ts.isArrowFunction(node) && !ts.isBlock(node.body)) node = node.body;
  return node.getText().replace(/\s+/g, ' ').trim();
}

/** A default as shown: a short constant named by an identifier (`DEFAULT_SCHEDULE`) by its value. */
function defaultText(node, checker) {
  if (ts.isArrowFunction(node) && !ts.isBlock(node.body)) node = node.body;
  if (ts.isIdentifier(node)) {
    let sym = checker.getSymbolAtLocation(node);
    if (sym && sym.flags & ts.SymbolFlags.Alias) sym = checker.getAliasedSymbol(sym);
    const d = sym?.valueDeclaration;
    if (
      d &&
      ts.isVariableDeclaration(d) &&
      d.initializer &&
      ts.getCombinedNodeFlags(d) & ts.NodeFlags.Const
    ) {
      let init = d.initializer;
      while (
        ts.isAsExpression(init) ||
        (ts.isSatisfiesExpression && ts.isSatisfiesExpression(init)) ||
        ts.isParenthesizedExpression(init)
      )
        init = init.expression;
      const text = exprText(init);
      if (text.length <= 80 && !ts.isCallExpression(init)) return text;
    }
  }
  return exprText(node);
}

/**
 * Default of a zod field, from its property in an object literal of zod schemas (the argument of
 * `z.object(…)`, or an object of fields spread into one): the argument of the outermost
 * `.default(…)` along the field's schema expression, following identifiers and property accesses
 * to the schemas they name (`schemas.positiveInt.default(3)`, `initSchema`). `undefined` when the
 * property is not a zod field; `{ text: undefined }` when the field has no default.
 */
function zodFieldDefault(decl, checker) {
  if (!decl || !ts.isPropertyAssignment(decl) || !ts.isObjectLiteralExpression(decl.parent))
    return undefined;
  const call = decl.parent.parent;
  const inZodBuilder =
    call &&
    ts.isCallExpression(call) &&
    ts.isPropertyAccessExpression(call.expression) &&
    ZOD_OBJECT_BUILDERS.has(call.expression.name.text);
  let e = decl.initializer;
  let isZod = inZodBuilder;
  for (let hops = 0; e && hops < 50; hops++) {
    if (
      ts.isParenthesizedExpression(e) ||
      ts.isAsExpression(e) ||
      (ts.isSatisfiesExpression && ts.isSatisfiesExpression(e))
    ) {
      e = e.expression;
    } else if (ts.isCallExpression(e)) {
      if (!ts.isPropertyAccessExpression(e.expression)) break; // a helper function: nothing to read
      const m = e.expression.name.text;
      if ((m === 'default' || m === 'prefault') && e.arguments[0])
        return { text: defaultText(e.arguments[0], checker) };
      e = e.expression.expression; // the receiver: `x` of `x.int()`
    } else if (ts.isIdentifier(e) || ts.isPropertyAccessExpression(e)) {
      // A named schema: follow it to its definition in the sources; `z` itself ends the walk.
      let sym = checker.getSymbolAtLocation(ts.isPropertyAccessExpression(e) ? e.name : e);
      if (sym && sym.flags & ts.SymbolFlags.Alias) sym = checker.getAliasedSymbol(sym);
      const d = sym?.valueDeclaration ?? sym?.declarations?.[0];
      if (!d) break;
      if (/[/\\]node_modules[/\\]zod[/\\]/.test(d.getSourceFile().fileName)) {
        isZod = true;
        break;
      }
      if (d.getSourceFile().fileName.includes('node_modules')) break;
      if ((ts.isVariableDeclaration(d) || ts.isPropertyAssignment(d)) && d.initializer)
        e = d.initializer;
      else break;
    } else {
      break;
    }
  }
  return isZod ? { text: undefined } : undefined;
}

/** `z.input<typeof Schema>` (or output / infer), as a type node. */
function isZodInferredTypeNode(node) {
  if (!node || !ts.isTypeReferenceNode(node)) return false;
  const name = ts.isQualifiedName(node.typeName) ? node.typeName.right.text : node.typeName.text;
  return (
    ZOD_TYPE_HELPERS.has(name) &&
    node.typeArguments?.length === 1 &&
    ts.isTypeQueryNode(node.typeArguments[0])
  );
}

/** Markdown table cell: one line, pipes escaped. */
function cell(text) {
  return (
    text
      .replace(/\s*\n\s*/g, ' ')
      .replace(/\|/g, '\\|')
      .trim() || '-'
  );
}

/** A type as code spans, a union split so its `|` stays outside the code (`"a"` \| `"b"`). */
function typeCell(text) {
  const parts = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if ('<([{'.includes(c)) depth++;
    else if ('>)]}'.includes(c)) depth--;
    else if (c === '|' && depth === 0) {
      parts.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(text.slice(start).trim());
  return parts
    .filter((p) => p && p !== 'undefined')
    .map((p) => `\`${p.replace(/\|/g, '\\|').replace(/`/g, "'")}\``)
    .join(' \\| ');
}

/** A doc comment as one table cell: `{@link X}` becomes `X` in code. */
function docCell(text) {
  return cell(
    text.replace(
      /\{@link(?:code|plain)?\s+([^}|\s]+)(?:\s*\|\s*([^}]+))?\}/g,
      (_, target, label) => (label ? label.trim() : `\`${target}\``),
    ),
  );
}

/** Rows of the fields of one object type. */
function fieldRows(type, node, checker) {
  return checker.getPropertiesOfType(type).map((p) => {
    const optional = (p.flags & ts.SymbolFlags.Optional) !== 0;
    const decl = p.valueDeclaration ?? p.declarations?.[0];
    const def = zodFieldDefault(decl, checker)?.text;
    let t = checker.typeToString(
      checker.getTypeOfSymbolAtLocation(p, node),
      node,
      ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseSingleQuotesForStringLiteralType,
    );
    // A nested brick config (`z.looseObject({ type: z.string() })`): core's BrickConfig.
    t = t
      .replaceAll('{ [x: string]: unknown; type: string; }', 'BrickConfig')
      .replaceAll(' | undefined', '');
    const doc = ts.displayPartsToString(p.getDocumentationComment(checker));
    return `| \`${p.name}${optional ? '?' : ''}\` | ${typeCell(t)} | ${def === undefined ? (optional ? '-' : '(required)') : `\`${cell(def)}\``} | ${docCell(doc)} |`;
  });
}

const TABLE_HEAD = [
  '| Field | Type | Default | Description |',
  '| ------ | ------ | ------ | ------ |',
];

/**
 * The "Fields" table of a zod-inferred config type (an object type), or one table per variant of a
 * union of object types (a discriminated union: headed by the discriminant, e.g. `kind: 'sigmoid'`).
 * For a `z.enum` or `z.literal`, the values; `undefined` for other types.
 */
function fieldsTable(typeNode, checker) {
  const type = checker.getTypeFromTypeNode(typeNode);
  const isObject = (t) =>
    (t.flags & ts.TypeFlags.Object) !== 0 && checker.getPropertiesOfType(t).length > 0;
  if (isObject(type))
    return ['## Fields', '', ...TABLE_HEAD, ...fieldRows(type, typeNode, checker)].join('\n');
  if ((type.isUnion() && type.types.every((t) => t.isLiteral())) || type.isLiteral()) {
    // A `z.enum` / `z.literal`: its values.
    return `One of: ${typeCell(checker.typeToString(type, typeNode, ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseSingleQuotesForStringLiteralType))}.`;
  }
  if (!type.isUnion() || !type.types.every(isObject)) return undefined;
  const out = ['## Fields', '', 'One of:'];
  type.types.forEach((variant, i) => {
    // The discriminant: a property whose type is a single literal in this variant.
    const disc = checker.getPropertiesOfType(variant).find((p) => {
      const t = checker.getTypeOfSymbolAtLocation(p, typeNode);
      return (p.flags & ts.SymbolFlags.Optional) === 0 && t.isLiteral();
    });
    const label = disc
      ? `${disc.name}: ${checker.typeToString(checker.getTypeOfSymbolAtLocation(disc, typeNode), typeNode, ts.TypeFormatFlags.UseSingleQuotesForStringLiteralType)}`
      : `variant ${i + 1}`;
    out.push('', `### \`${label}\``, '', ...TABLE_HEAD, ...fieldRows(variant, typeNode, checker));
  });
  return out.join('\n');
}

/** Appends `Default: \`x\`.` to a comment (a copy: comments can be shared between reflections). */
function appendDefault(refl, text) {
  refl.comment = refl.comment ? refl.comment.clone() : new Comment([]);
  const sep = refl.comment.summary.length ? ' ' : '';
  refl.comment.summary.push(
    { kind: 'text', text: `${sep}Default: ` },
    { kind: 'code', text: `\`${text}\`` },
    { kind: 'text', text: '.' },
  );
}

/**
 * Defaults of a destructured parameter (`{ tol = 1e-24, maxSweeps = 100 } = {}`): on its inline
 * type's fields when the parameter table lists them, else in the parameter's description.
 */
function addBindingDefaults(param, pattern) {
  const defaults = [];
  for (const el of pattern.elements) {
    if (!el.initializer) continue;
    const key =
      el.propertyName && ts.isIdentifier(el.propertyName)
        ? el.propertyName.text
        : ts.isIdentifier(el.name)
          ? el.name.text
          : undefined;
    if (key) defaults.push([key, exprText(el.initializer)]);
  }
  if (!defaults.length) return;
  const fields = param.type?.type === 'reflection' ? param.type.declaration?.children : undefined;
  if (fields?.length) {
    for (const [key, text] of defaults) {
      const f = fields.find((c) => c.name === key);
      if (f) appendDefault(f, text);
    }
    return;
  }
  param.comment = param.comment ? param.comment.clone() : new Comment([]);
  const parts = param.comment.summary;
  parts.push({ kind: 'text', text: `${parts.length ? ' ' : ''}Defaults: ` });
  defaults.forEach(([key, text], i) => {
    parts.push({ kind: 'code', text: `\`${key} = ${text}\`` });
    parts.push({ kind: 'text', text: i < defaults.length - 1 ? ', ' : '.' });
  });
}

/** Whether a reflection is a member of an object type that belongs to a parameter. */
function underParameter(refl) {
  for (let p = refl.parent; p; p = p.parent) {
    if (p instanceof ParameterReflection) return true;
    if (p.kindOf?.(ReflectionKind.SomeSignature) || p.kindOf?.(ReflectionKind.ClassOrInterface))
      return false;
  }
  return false;
}

/** @param {import('typedoc').Application} app */
export function load(app) {
  // The type checker of the program being converted (one program: tsconfig.typedoc.json), kept for
  // the resolve phase, where TypeDoc no longer exposes it.
  let checker;
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context) => {
    checker ??= context.checker;
  });
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    // 1. Module names.
    for (const mod of context.project.getChildrenByKind(ReflectionKind.Module)) {
      const file =
        mod.sources?.[0]?.fullFileName ??
        context.project.getSymbolIdFromReflection?.(mod)?.fileName;
      const pkgDir = file ? dirname(dirname(file)) : undefined;
      if (!pkgDir) continue;
      try {
        mod.name = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).name;
      } catch {
        /* keep TypeDoc's name */
      }
    }

    if (!checker) return;
    for (const refl of Object.values(context.project.reflections)) {
      const symbol = context.getSymbolFromReflection(refl);
      // 2. Destructured parameters: a name, and the defaults of the destructured fields.
      if (refl instanceof ParameterReflection && refl.name === '__namedParameters') {
        const siblings = refl.parent?.parameters?.map((p) => p.name) ?? [];
        refl.name = siblings.includes('options') ? 'opts' : 'options';
        const pattern = symbol?.valueDeclaration?.name;
        if (pattern && ts.isObjectBindingPattern(pattern)) addBindingDefaults(refl, pattern);
        continue;
      }
      if (!symbol) continue;
      const decl = symbol.valueDeclaration ?? symbol.declarations?.[0];

      // 3a. Type aliases of zod-inferred types: a fields table.
      if (
        refl.kindOf(ReflectionKind.TypeAlias) &&
        decl &&
        ts.isTypeAliasDeclaration(decl) &&
        isZodInferredTypeNode(decl.type)
      ) {
        const table = fieldsTable(decl.type, checker);
        if (table) {
          refl.comment = refl.comment ? refl.comment.clone() : new Comment([]);
          const sep = refl.comment.summary.length ? '\n\n' : '';
          refl.comment.summary.push({ kind: 'text', text: `${sep}${table}` });
        }
        continue;
      }

      // 3b. Fields of zod objects elsewhere: their defaults.
      const def = refl.kindOf(ReflectionKind.Property) ? zodFieldDefault(decl, checker) : undefined;
      if (!def) {
        // 4. Any other default TypeDoc abbreviates as `...` (`new Map()`, `globalRng()`): the
        //    initializer's text when it is short, else nothing.
        if (refl.defaultValue === '...') {
          const init =
            decl && 'initializer' in decl && decl.initializer
              ? exprText(decl.initializer)
              : undefined;
          refl.defaultValue = init && init.length <= 80 ? init : undefined;
        }
        continue;
      }
      if (underParameter(refl)) {
        refl.defaultValue = undefined;
        if (def.text !== undefined) appendDefault(refl, def.text);
      } else {
        refl.defaultValue = def.text;
      }
    }
  });
}
