package main

// The completion scripts are small: each asks `tierflow __complete` for
// the candidates of the word at the cursor (completion_complete.go) and
// hands them to its shell, with file or directory names when the last
// line, the directive, says so (:1 files, :2 directories).

// bashCompletion works without the bash-completion package, in bash 3.2
// and later.
const bashCompletion = `
# bash completion for tierflow. Load it in ~/.bashrc with
#   source <(tierflow completion bash)
# It asks tierflow itself for the candidates: tierflow __complete WORD...

_tierflow() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local i w out line directive=0
	local -a words=() lines=()
	# bash splits --flag=value at the "=": join the pieces again.
	for ((i = 1; i <= COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if ((${#words[@]} > 0)) && [[ $w == "=" || ${COMP_WORDS[i-1]} == "=" ]]; then
			words[${#words[@]}-1]+=$w
		else
			words+=("$w")
		fi
	done
	out=$("${COMP_WORDS[0]}" __complete "${words[@]}" 2>/dev/null) || return 0
	while IFS= read -r line; do
		lines+=("$line")
	done <<<"$out"
	((${#lines[@]} > 0)) || return 0
	directive=${lines[${#lines[@]}-1]#:}
	unset "lines[${#lines[@]}-1]"
	COMPREPLY=()
	for line in "${lines[@]}"; do
		line=${line%%$'\t'*}
		# After --flag=, bash replaces only what follows the "=".
		[[ $cur == "=" || $prev == "=" ]] && line=${line#*=}
		COMPREPLY+=("$line")
	done
	[[ $cur == "=" ]] && cur=
	case $directive in
	1) while IFS= read -r line; do COMPREPLY+=("$line"); done < <(compgen -f -- "$cur") ;;
	2) while IFS= read -r line; do COMPREPLY+=("$line"); done < <(compgen -d -- "$cur") ;;
	esac
	if [[ $directive == [12] ]] && type compopt >/dev/null 2>&1; then
		compopt -o filenames 2>/dev/null
	fi
	return 0
}

complete -F _tierflow tierflow
`

// zshCompletion is both a file for $fpath (#compdef) and a script to
// source after compinit.
const zshCompletion = `
#compdef tierflow
# zsh completion for tierflow. Install it with
#   tierflow completion zsh > "${fpath[1]}/_tierflow"
# or load it in ~/.zshrc, after compinit, with
#   source <(tierflow completion zsh)
# It asks tierflow itself for the candidates: tierflow __complete WORD...

_tierflow() {
	local out line value desc directive
	local -a lines candidates
	out=$("${words[1]}" __complete "${(@)words[2,CURRENT]}" 2>/dev/null) || return 1
	lines=("${(@f)out}")
	directive=${lines[-1]#:}
	for line in "${(@)lines[1,-2]}"; do
		value=${line%%$'\t'*}
		desc=
		[[ $line == *$'\t'* ]] && desc=${line#*$'\t'}
		candidates+=("${value//:/\\:}${desc:+:$desc}")
	done
	(( ${#candidates} )) && _describe -t tierflow tierflow candidates
	[[ $directive == [12] && $PREFIX == -*=* ]] && compset -P 1 '*=' # --flag=FILE
	case $directive in
	1) _files ;;
	2) _files -/ ;;
	esac
	return 0
}

if [[ $funcstack[1] == _tierflow ]]; then
	_tierflow "$@" # autoloaded from $fpath
else
	compdef _tierflow tierflow
fi
`

// fishCompletion goes to ~/.config/fish/completions/tierflow.fish.
const fishCompletion = `
# fish completion for tierflow. Install it with
#   tierflow completion fish > ~/.config/fish/completions/tierflow.fish
# It asks tierflow itself for the candidates: tierflow __complete WORD...

function __tierflow_complete
	set -l words (commandline -opc) (commandline -ct)
	set -l out (command $words[1] __complete $words[2..-1] 2>/dev/null)
	or return 0
	test (count $out) -gt 0
	or return 0
	if test (count $out) -gt 1
		printf '%s\n' $out[1..-2]
	end
	set -l token (commandline -ct)
	set -l prefix ''
	if string match -qr -- '^-[^=]*=' $token # --flag=FILE
		set prefix (string replace -r -- '=.*' '=' $token)
		set token (string replace -r -- '^[^=]*=' '' $token)
	end
	switch $out[-1]
		case :1
			printf '%s\n' $prefix(__fish_complete_path $token)
		case :2
			printf '%s\n' $prefix(__fish_complete_directories $token)
	end
end

complete -c tierflow -f -a '(__tierflow_complete)'
`
