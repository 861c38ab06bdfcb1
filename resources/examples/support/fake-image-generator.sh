#!/bin/sh
# Stand-in for an image generator: writes an SVG that shows the prompt.
# Usage: fake-image-generator.sh OUT.svg PROMPT
out="$1"
shift
prompt="$*"
esc=$(printf '%s' "$prompt" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g')
cat > "$out" <<SVG
<svg xmlns="http://www.w3.org/2000/svg" width="512" height="128">
  <rect width="100%" height="100%" fill="#202840"/>
  <text x="24" y="72" font-family="sans-serif" font-size="24" fill="#f0e0a0">$esc</text>
</svg>
SVG
echo "wrote $out ($(wc -c < "$out") bytes) for: $prompt"
