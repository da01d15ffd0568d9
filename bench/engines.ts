/**
 * How the harness imports tfjs engine packages: by literal specifiers, so that a bundler that
 * inlines dependencies (`bench/gpu/pack.sh`, for a bare GPU machine without `node_modules`)
 * includes them in the bundle next to the one tfjs-core they must share. Under `npm run bench` the
 * same literals stay runtime imports. Dawn (`webgpu`, a native addon) is never bundled: pack.sh
 * ships it beside the bundle and it is imported at run time.
 */
export function importEngineModule(specifier: string): Promise<unknown> {
  switch (specifier) {
    case '@tensorflow/tfjs-backend-webgpu':
      return import('@tensorflow/tfjs-backend-webgpu');
    case '@tensorflow/tfjs-backend-cpu':
      return import('@tensorflow/tfjs-backend-cpu');
    default:
      return import(specifier);
  }
}
